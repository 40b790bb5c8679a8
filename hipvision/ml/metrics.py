"""Agreement between predicted and true landmarks: the numbers every report uses.

NA MAE (degrees), NA MAPE (the poster's metric: mean |error| / true NA, in percent),
landmark errors in pixels (and mm with a pixel spacing), share of hips within 5 and 10
degrees, and grade agreement (the grade hint of the prediction equals the truth's).
Pure numpy, no torch: the evaluation report and training's validation share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds, grade_hint
from hipvision.core.landmarks import HipLandmarks, Side


@dataclass(frozen=True)
class HipComparison:
    image: str
    side: str  # patient side
    split: str
    na_true: float
    na_pred: float
    head_err_px: float
    rim_err_px: float
    radius_err_px: float
    head_err_mm: float | None
    rim_err_mm: float | None
    grade_true: str
    grade_pred: str
    head_located: bool = True  # predicted head within LOCATED_SHARE of the true inter-head distance
    head_radius_px: float = math.nan  # the true head radius, full-resolution pixels

    @property
    def na_abs_err(self) -> float:
        return abs(self.na_pred - self.na_true)

    def to_row(self) -> dict:
        d = asdict(self)
        d["na_abs_err"] = self.na_abs_err
        return d


# A head counts as located when the prediction lands within this share of the distance between
# the two true head centres: on the femoral head itself, not on the spine, ilium or abdomen.
LOCATED_SHARE = 0.1


def _mm(dx: float, dy: float, spacing) -> float | None:
    if spacing is None:
        return None
    row, col = spacing
    return math.hypot(dx * col, dy * row)


def compare(image: str, pred: HipLandmarks, truth: HipLandmarks, *, split: str = "",
            spacing: tuple[float, float] | None = None,
            thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> list[HipComparison]:
    out = []
    inter_head = math.hypot(truth.left.head_x - truth.right.head_x, truth.left.head_y - truth.right.head_y)
    for side in Side:
        p, t = pred.side(side), truth.side(side)
        na_t, na_p = truth.norberg_angle(side), pred.norberg_angle(side)
        hdx, hdy = p.head_x - t.head_x, p.head_y - t.head_y
        rdx, rdy = p.rim_x - t.rim_x, p.rim_y - t.rim_y
        out.append(HipComparison(
            image=image, side=side.value, split=split, na_true=na_t, na_pred=na_p,
            head_err_px=math.hypot(hdx, hdy), rim_err_px=math.hypot(rdx, rdy),
            radius_err_px=abs(p.head_r - t.head_r),
            head_err_mm=_mm(hdx, hdy, spacing), rim_err_mm=_mm(rdx, rdy, spacing),
            grade_true=grade_hint(na_t, thresholds).value, grade_pred=grade_hint(na_p, thresholds).value,
            head_located=math.hypot(hdx, hdy) <= LOCATED_SHARE * inter_head,
            head_radius_px=float(t.head_r),
        ))
    return out


def summarise(rows: Sequence[HipComparison]) -> dict:
    """Aggregate metrics of some hips (NaN-free dict of floats; mm only if every hip has them)."""
    if not rows:
        return {"hips": 0}
    err = np.array([r.na_abs_err for r in rows])
    na_t = np.array([r.na_true for r in rows])
    out = {
        "hips": len(rows),
        "images": len({r.image for r in rows}),
        "na_mae": float(err.mean()),
        "na_median_ae": float(np.median(err)),
        "na_max_ae": float(err.max()),
        "na_mape": float((err / np.abs(na_t)).mean() * 100.0),
        "within_5": float((err <= 5.0).mean() * 100.0),
        "within_10": float((err <= 10.0).mean() * 100.0),
        "located": float(np.mean([r.head_located for r in rows]) * 100.0),
        "grade_agreement": float(np.mean([r.grade_true == r.grade_pred for r in rows]) * 100.0),
        "head_err_px": float(np.mean([r.head_err_px for r in rows])),
        "rim_err_px": float(np.mean([r.rim_err_px for r in rows])),
        "radius_err_px": float(np.mean([r.radius_err_px for r in rows])),
    }
    if all(r.head_err_mm is not None for r in rows):
        out["head_err_mm"] = float(np.mean([r.head_err_mm for r in rows]))
        out["rim_err_mm"] = float(np.mean([r.rim_err_mm for r in rows]))
    return out


# True head radius bands (full-resolution pixels) for the by-size table. The NA is an angle
# between points about one head radius apart, so a 1-px error moves it by ~57°/radius: about
# 6° at a 10-px head, 1.4° at a 40-px one. Small heads (a toy dog on a whole-body film, a
# downscaled export) bound what any model can do; the table says where the error comes from.
RADIUS_BANDS = ((0.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, math.inf))


def by_head_size(rows: Sequence[HipComparison]) -> list[tuple[str, dict]]:
    """[(band label, summarise() of its hips)] for the bands that hold hips."""
    out = []
    for lo, hi in RADIUS_BANDS:
        part = [r for r in rows if lo <= r.head_radius_px < hi]
        if part:
            label = f"< {hi:.0f} px" if lo == 0 else f">= {lo:.0f} px" if math.isinf(hi) else f"{lo:.0f}-{hi:.0f} px"
            out.append((label, summarise(part)))
    return out
