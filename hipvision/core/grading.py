"""Grade hints and BVA-style points from a Norberg angle. A hint for the veterinarian, never a diagnosis.

One value, one grade: both are computed from the NA as shown, rounded to 0.1° (`shown_na`),
so a hip displayed as "105.0°" can never be graded borderline on one screen and normal on
another. The grade thresholds are preferences; the BVA-style points are not — they follow the
fixed rule of the BVA/KC scheme (0 at >= 105°, +1 per started 5° below, at most 6), so changing
the grade hint never changes the points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Grade(str, Enum):
    NORMAL = "normal"
    BORDERLINE = "borderline"
    SUSPECT = "suspect"


# Colours used by every renderer (GUI, offscreen render, PDF) so a grade looks the same everywhere.
GRADE_COLOURS = {Grade.NORMAL: "#2e9d4b", Grade.BORDERLINE: "#e0a000", Grade.SUSPECT: "#d33c3c"}


@dataclass(frozen=True)
class GradeThresholds:
    """NA >= normal_min: normal; borderline_min <= NA < normal_min: borderline; below: suspect."""

    normal_min: float = 105.0
    borderline_min: float = 100.0

    def __post_init__(self) -> None:
        for name in ("normal_min", "borderline_min"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"GradeThresholds.{name} must be a finite number, got {v!r}")
        if not 0 < self.borderline_min <= self.normal_min < 180:
            raise ValueError(
                f"GradeThresholds need 0 < borderline_min <= normal_min < 180, got "
                f"borderline_min={self.borderline_min!r}, normal_min={self.normal_min!r}"
            )


DEFAULT_THRESHOLDS = GradeThresholds()

# The BVA-style rule, fixed (not a preference): see the module docstring and README.
BVA_ZERO_AT = 105.0
BVA_STEP = 5.0
BVA_MAX = 6
NA_DECIMALS = 1  # the NA is shown, printed and exported to 0.1°


def shown_na(na_deg: float) -> float:
    """The NA as the user reads it; grades and points are computed from this value."""
    return round(float(na_deg), NA_DECIMALS)


def grade_hint(na_deg: float, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Grade:
    na = shown_na(na_deg)
    if na >= thresholds.normal_min:
        return Grade.NORMAL
    if na >= thresholds.borderline_min:
        return Grade.BORDERLINE
    return Grade.SUSPECT


def bva_points(na_deg: float) -> int:
    """0 at >= 105°, plus one per *started* 5° below it, at most 6 (of the shown 0.1° value).

    104.9 -> 1, 100.0 -> 1, 99.9 -> 2. A tiny tolerance keeps 100.0 from becoming 2 through
    float noise in the subtraction.
    """
    deficit = BVA_ZERO_AT - shown_na(na_deg)
    if deficit <= 0:
        return 0
    return min(BVA_MAX, math.ceil(deficit / BVA_STEP - 1e-9))
