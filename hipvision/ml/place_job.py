"""The place-with-clicks assist as an engine job: two rough head clicks -> refined landmarks.

The vet clicks near each femoral head (or presses the refine key after dragging a head far from
its prediction); stage 1 is skipped for the head positions and stage 2 refines centre, radius
and rim from the clicks (see `pipeline.run_pipeline(heads=...)`). The job only computes: the
window applies the result as the person's own edit (one undo step, saved as `user`), because
it was the person who said where the hips are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipvision.core.geometry import GeometryError, head_clicks
from hipvision.core.landmarks import HipLandmarks
from hipvision.core.store import Project


@dataclass(frozen=True)
class PlaceJob:
    project_dir: str
    image_id: int
    heads: tuple[tuple[float, float], tuple[float, float]]  # full-resolution pixels, any order
    device: str = "auto"

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "heads", head_clicks(self.heads))
        except GeometryError as exc:
            raise ValueError(f"PlaceJob.heads: {exc}") from None


@dataclass(frozen=True)
class PlaceResult:
    image_id: int
    landmarks: HipLandmarks  # by patient side, full-resolution pixels
    confidence: dict[str, float]
    model_id: str


def place_hips(config: PlaceJob, *, progress=None, cancel=None) -> PlaceResult:
    from hipvision.ml.app_jobs import predictor_for

    with Project.open(config.project_dir, create=False) as project:
        rec = project.image(config.image_id)
        predictor, model_id = predictor_for(project, config.device)
        pred = predictor.predict(rec.abs_path, rec.mapping, heads=np.asarray(config.heads, dtype=np.float64))
    if progress is not None:
        progress(1, 1, "placed")
    return PlaceResult(image_id=config.image_id, landmarks=pred.landmarks, confidence=dict(pred.confidence),
                       model_id=str(model_id))
