"""The validation numbers of a two-stage model: the real pipeline run on cached images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hipvision.core.geometry import GeometryError
from hipvision.core.jobs import check_cancel
from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from hipvision.ml.data import Sample
from hipvision.ml.metrics import compare, summarise
from hipvision.ml.model import KeypointNet
from hipvision.ml.pipeline import PipelineOptions, run_pipeline


def to_landmarks(hips: np.ndarray, mapping) -> HipLandmarks:
    sides = [SideLandmarks(float(h[0]), float(h[1]), max(float(h[2]), 1e-3), float(h[3]), float(h[4])) for h in hips]
    return mapping.from_image_order(sides[0], sides[1])


def validate(stage1: KeypointNet, stage2: KeypointNet | None, samples: Sequence[Sample], cache,
             options: PipelineOptions, device, *, batch: int = 8, cancel=None) -> dict:
    """NA/landmark metrics of the two-stage pipeline on cached images."""
    rows = []
    for i in range(0, len(cache), batch):
        check_cancel(cancel)
        part = cache[i:i + batch]
        raw = run_pipeline(stage1, stage2, [c.source() for c in part], options, device)
        for s, r in zip(samples[i:i + batch], raw):
            try:
                rows += compare(s.label, to_landmarks(r.hips, s.mapping), s.landmarks, split=s.split,
                                spacing=s.spacing)
            except GeometryError:
                continue  # degenerate prediction (coincident points): counted as missing
    return summarise(rows)
