"""Evaluation on a small set of real radiographs with approximate landmarks (a dev set).

The reference file lists, per image and by *image* side, the femoral-head centre and the
craniolateral rim point (no radius): the format of `../shared/reference/real_dev_landmarks.json`.
Each image is measured twice: fully automatic, and as the place-with-clicks assist does it, from
two simulated clicks that miss each true head centre by `click_error` head radii in a random
direction. A head counts as located when the prediction lands within 10 % of the true inter-head
distance (the same rule as `metrics.LOCATED_SHARE`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.ml.metrics import LOCATED_SHARE

# The reference has no radius; a canine femoral head is about a tenth of the inter-head distance.
RADIUS_PER_INTER_HEAD = 0.1


@dataclass(frozen=True)
class ReferenceImage:
    path: Path
    heads: np.ndarray  # (2, 2) image-left, image-right head centre
    rims: np.ndarray  # (2, 2)

    @property
    def inter_head(self) -> float:
        return float(np.hypot(*(self.heads[1] - self.heads[0])))

    def landmarks(self) -> HipLandmarks:
        r = RADIUS_PER_INTER_HEAD * self.inter_head
        sides = [SideLandmarks(*self.heads[h], r, *self.rims[h]) for h in range(2)]
        return SideMapping().from_image_order(sides[0], sides[1])


@dataclass(frozen=True)
class HipResult:
    image: str
    image_side: str
    mode: str  # "auto" or "clicks"
    na_true: float
    na_pred: float
    head_err_px: float
    located: bool
    doubtful: bool = False  # the app flags the prediction for review (annotation/plausibility.py)

    @property
    def na_abs_err(self) -> float:
        return abs(self.na_pred - self.na_true) if math.isfinite(self.na_pred) else float("inf")


def read_reference(path: str | Path) -> list[ReferenceImage]:
    """Images and image-order landmarks of a reference JSON (images beside it)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.json"))
        if len(found) != 1:
            raise FileNotFoundError(f"{path}: expected one landmarks .json, found {len(found)}")
        path = found[0]
    try:
        items = json.loads(path.read_text())
        out = []
        for it in items:
            sides = [it["image_left"], it["image_right"]]
            out.append(ReferenceImage(path=path.parent / it["image"],
                                      heads=np.array([s["head"] for s in sides], dtype=np.float64),
                                      rims=np.array([s["rim"] for s in sides], dtype=np.float64)))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a reference landmarks file ({exc})") from None
    return out


def simulated_clicks(ref: ReferenceImage, click_error: float, rng: np.random.Generator) -> np.ndarray:
    """Two clicks, each `click_error` head radii from its true head centre, random direction."""
    r = RADIUS_PER_INTER_HEAD * ref.inter_head
    t = rng.uniform(0, 2 * math.pi, 2)
    return ref.heads + click_error * r * np.stack([np.cos(t), np.sin(t)], axis=1)


def _compare(ref: ReferenceImage, pred: HipLandmarks, mode: str, doubtful: bool = False) -> list[HipResult]:
    truth = ref.landmarks()
    mapping = SideMapping()
    t_sides = mapping.to_image_order(truth)
    p_sides = mapping.to_image_order(pred)
    out = []
    for h, name in enumerate(("image_left", "image_right")):
        patient = mapping.patient_side_of_image_left() if h == 0 else mapping.patient_side_of_image_left().other
        try:
            na_p = pred.norberg_angle(patient)
        except ValueError:
            na_p = float("nan")
        err = math.hypot(p_sides[h].head_x - t_sides[h].head_x, p_sides[h].head_y - t_sides[h].head_y)
        out.append(HipResult(image=ref.path.name, image_side=name, mode=mode,
                             na_true=truth.norberg_angle(patient), na_pred=na_p, head_err_px=err,
                             located=err <= LOCATED_SHARE * ref.inter_head, doubtful=doubtful))
    return out


def evaluate_reference(predictor, refs: list[ReferenceImage], *, click_error: float = 1 / 3,
                       click_trials: int = 5, seed: int = 0, progress=None) -> list[HipResult]:
    """Every reference image automatically and from `click_trials` sets of simulated clicks."""
    rng = np.random.default_rng(seed)
    out: list[HipResult] = []
    for i, ref in enumerate(refs):
        pred = predictor.predict(ref.path)
        out += _compare(ref, pred.landmarks, "auto", pred.assessment().doubtful)
        for _ in range(click_trials):
            pred = predictor.predict(ref.path, heads=simulated_clicks(ref, click_error, rng))
            out += _compare(ref, pred.landmarks, "clicks")
        if progress is not None:
            progress(i + 1, len(refs), ref.path.name)
    return out


def summarise_reference(rows: list[HipResult], mode: str) -> dict:
    sel = [r for r in rows if r.mode == mode]
    if not sel:
        return {"hips": 0}
    err = np.array([r.na_abs_err for r in sel])
    return {"hips": len(sel), "located": 100.0 * float(np.mean([r.located for r in sel])),
            "within_10": 100.0 * float(np.mean(err <= 10.0)), "within_5": 100.0 * float(np.mean(err <= 5.0)),
            "na_median_ae": float(np.median(err)), "na_mae": float(np.mean(np.where(np.isfinite(err), err, 90.0))),
            # A failure the app shows as a measurement is the worst outcome: count the wrong hips
            # (not located, or NA off by more than 10°) that were not flagged for review.
            "doubtful": 100.0 * float(np.mean([r.doubtful for r in sel])),
            "wrong_unflagged": int(sum(1 for r, e in zip(sel, err) if (not r.located or e > 10.0) and not r.doubtful))}
