"""The quality gate: the active keypoint model looks at every generated image.

- Labelled images (conditional): the model's landmarks must agree with the condition the
  image was generated from: head centre and rim within `max_point_radii` head radii, head
  radius within the same share, NA within `max_na_deg`. A generator that drew a hip where the
  condition did not ask for one would otherwise teach the keypoint model wrong labels.
- Unlabelled images (ddpm, dreambooth): every landmark's confidence must reach
  `min_confidence`; accepted images are pre-labelled by the model and wait for review.
Rejections are counted by reason. The predictor is any callable (image, mapping) ->
Prediction-like (`.landmarks`, `.confidence`); production uses hipvision.ml.predict.Predictor.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hipvision.core.geometry import GeometryError
from hipvision.core.landmarks import HipLandmarks, Side, SideMapping


@dataclass(frozen=True)
class GateConfig:
    enabled: bool = True
    max_point_radii: float = 0.5
    max_na_deg: float = 6.0
    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not self.max_point_radii > 0:
            raise ValueError(f"max_point_radii: must be > 0, got {self.max_point_radii!r}")
        if not 0 < self.max_na_deg <= 180:
            raise ValueError(f"max_na_deg: must be in (0, 180], got {self.max_na_deg!r}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence: must be in [0, 1], got {self.min_confidence!r}")


@dataclass(frozen=True)
class GateDecision:
    accepted: bool
    score: float  # labelled: worst NA disagreement (deg); unlabelled: lowest landmark confidence
    reason: str  # "" when accepted
    kind: str = ""  # what failed: "landmarks" | "na" | "confidence"
    landmarks: HipLandmarks | None = None  # the model's prediction
    confidence: dict | None = None


def disagreement(pred: HipLandmarks, cond: HipLandmarks) -> dict[str, float]:
    """Worst per-hip disagreements: point/radius error in head radii, NA error in degrees."""
    pts, na = 0.0, 0.0
    for s in Side:
        p, c = pred.side(s), cond.side(s)
        r = c.head_r
        pts = max(pts, math.hypot(p.head_x - c.head_x, p.head_y - c.head_y) / r,
                  math.hypot(p.rim_x - c.rim_x, p.rim_y - c.rim_y) / r, abs(p.head_r - r) / r)
        try:
            na = max(na, abs(pred.norberg_angle(s) - cond.norberg_angle(s)))
        except GeometryError:
            na = 180.0
    return {"points_radii": pts, "na_deg": na}


def check_labelled(prediction, condition: HipLandmarks, cfg: GateConfig) -> GateDecision:
    d = disagreement(prediction.landmarks, condition)
    reason, kind = "", ""
    if d["points_radii"] > cfg.max_point_radii:
        reason = f"landmarks off by {d['points_radii']:.2f} head radii (limit {cfg.max_point_radii:g})"
        kind = "landmarks"
    elif d["na_deg"] > cfg.max_na_deg:
        reason, kind = f"NA off by {d['na_deg']:.1f} deg (limit {cfg.max_na_deg:g})", "na"
    return GateDecision(not reason, d["na_deg"], reason, kind, prediction.landmarks, dict(prediction.confidence or {}))


def check_unlabelled(prediction, cfg: GateConfig) -> GateDecision:
    conf = dict(prediction.confidence or {})
    lowest = min(conf.values()) if conf else 0.0
    reason = ""
    if lowest < cfg.min_confidence:
        worst = min(conf, key=conf.get) if conf else "all landmarks"
        reason = f"low confidence {lowest:.2f} at {worst} (limit {cfg.min_confidence:g})"
    return GateDecision(not reason, float(lowest), reason, "confidence" if reason else "", prediction.landmarks, conf)


@dataclass
class Gate:
    """Applies GateConfig with a predictor; keeps the counts a report needs."""

    predict: Callable[[np.ndarray, SideMapping], object]
    config: GateConfig = field(default_factory=GateConfig)
    model_id: str = "gate"
    accepted: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)

    def _count(self, d: GateDecision) -> GateDecision:
        if d.accepted:
            self.accepted += 1
        else:
            self.rejected += 1
            self.reasons[d.kind] += 1
        return d

    def labelled(self, image: np.ndarray, mapping: SideMapping, condition: HipLandmarks) -> GateDecision:
        if not self.config.enabled:
            return self._count(GateDecision(True, float("nan"), ""))
        return self._count(check_labelled(self.predict(image, mapping), condition, self.config))

    def unlabelled(self, image: np.ndarray, mapping: SideMapping) -> GateDecision:
        """Unlabelled images need the model's labels even with the gate off (for the review queue)."""
        d = check_unlabelled(self.predict(image, mapping), self.config)
        if not self.config.enabled:
            d = GateDecision(True, d.score, "", "", d.landmarks, d.confidence)
        return self._count(d)


def gate_for_project(project, config: GateConfig = GateConfig(), *, device=None, predictor=None) -> Gate:
    """The gate with the project's active keypoint model (else the shipped default)."""
    if predictor is None:
        from hipvision.ml.checkpoint import CheckpointError
        from hipvision.ml.predict import Predictor

        try:
            predictor = Predictor.for_project(project, device=device)
        except CheckpointError as exc:
            raise ValueError(f"the quality gate and the pre-labels need a keypoint model: the project has no usable "
                             f"active model and the default one is unavailable ({exc}); retrain a keypoint "
                             f"model on the project first") from None

    def predict(image, mapping):
        return predictor.predict(np.asarray(image, dtype=np.float32), mapping)

    return Gate(predict, config, model_id=str(predictor.model_id))
