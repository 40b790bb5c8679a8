"""Grade hints from a Norberg angle. A hint for the veterinarian, never a diagnosis."""

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
    bva_step: float = 5.0  # one BVA-style point per started step below normal_min
    bva_max: int = 6  # the BVA scheme scores the Norberg angle 0..6 per hip

    def __post_init__(self) -> None:
        for name in ("normal_min", "borderline_min", "bva_step"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"GradeThresholds.{name} must be a finite number, got {v!r}")
        if not 0 < self.borderline_min <= self.normal_min < 180:
            raise ValueError(
                f"GradeThresholds need 0 < borderline_min <= normal_min < 180, got "
                f"borderline_min={self.borderline_min!r}, normal_min={self.normal_min!r}"
            )
        if self.bva_step <= 0:
            raise ValueError(f"GradeThresholds.bva_step must be > 0, got {self.bva_step!r}")
        if not isinstance(self.bva_max, int) or self.bva_max < 0:
            raise ValueError(f"GradeThresholds.bva_max must be a non-negative int, got {self.bva_max!r}")


DEFAULT_THRESHOLDS = GradeThresholds()


def grade_hint(na_deg: float, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Grade:
    if na_deg >= thresholds.normal_min:
        return Grade.NORMAL
    if na_deg >= thresholds.borderline_min:
        return Grade.BORDERLINE
    return Grade.SUSPECT


def bva_points(na_deg: float, thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> int:
    """0 at >= normal_min, plus one per *started* bva_step below it (capped at bva_max).

    104.9 -> 1, 100.0 -> 1, 99.9 -> 2. A tiny tolerance keeps 100.0 from becoming 2 through
    float noise in the subtraction.
    """
    deficit = thresholds.normal_min - na_deg
    if deficit <= 0:
        return 0
    return min(thresholds.bva_max, math.ceil(deficit / thresholds.bva_step - 1e-9))
