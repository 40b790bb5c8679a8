"""The real training images a generator learns from, decoded once.

Only real images of the training split are used: a generator that saw a validation or test
radiograph would leak it into every synthetic image made from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hipvision.core.jobs import check_cancel
from hipvision.core.landmarks import HipLandmarks, SideMapping
from hipvision.ml.diffusion.imaging import map_landmarks
from hipvision.ml.transforms import Affine


@dataclass(frozen=True, eq=False)
class LabelledImage:
    """Pixels (float32, possibly reduced) with landmarks in those pixels' coordinates."""

    pixels: np.ndarray
    landmarks: HipLandmarks | None
    mapping: SideMapping = field(default_factory=SideMapping)
    name: str = ""


def _reduced(pixels: np.ndarray, lm: HipLandmarks | None,
             max_side: int | None) -> tuple[np.ndarray, HipLandmarks | None]:
    import cv2

    h, w = pixels.shape
    if max_side is None or max(h, w) <= max_side:
        return np.asarray(pixels, np.float32), lm
    s = max_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(np.asarray(pixels, np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    return small, None if lm is None else map_landmarks(Affine.scale_about_pixels(nw / w, nh / h), lm)


def load_record(rec, lm: HipLandmarks | None, max_side: int | None) -> LabelledImage:
    from hipvision.core.radiograph import load_radiograph

    rg = load_radiograph(rec.abs_path, max_side=max_side)
    fh, fw = rg.full_size
    if lm is not None and (rg.height, rg.width) != (fh, fw):
        lm = map_landmarks(Affine.scale_about_pixels(rg.width / fw, rg.height / fh), lm)
    return LabelledImage(rg.pixels, lm, rec.mapping, rec.path)


def real_training_images(project, *, labelled: bool, max_side: int | None = None, progress=None,
                         cancel=None) -> list[LabelledImage]:
    """Real training-split images of `project`: the labelled ones (with landmarks) or all
    readable ones (unconditional generators need no labels)."""
    if labelled:
        items = project.labelled(("train",), source="real")
    else:
        items = [(rec, None) for rec in project.images(split="train", source="real") if rec.status != "error"]
    if not items:
        kind = "labelled " if labelled else ""
        raise ValueError(f"{project.root}: no {kind}real training images to learn from")
    out = []
    for i, (rec, lm) in enumerate(items):
        check_cancel(cancel)
        out.append(load_record(rec, lm, max_side))
        if progress is not None:
            progress(i + 1, len(items), f"reading training images {i + 1}/{len(items)}")
    return out
