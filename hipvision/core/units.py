"""Pixel <-> millimetre conversion from a DICOM-style pixel spacing (row, column) in mm."""

from __future__ import annotations

import math

Spacing = tuple[float, float]  # (row spacing = y, column spacing = x), mm per pixel


def distance_mm(a: tuple[float, float], b: tuple[float, float], spacing: Spacing) -> float:
    """Distance between two image points in mm; spacing may be anisotropic."""
    sy, sx = spacing
    return math.hypot((b[0] - a[0]) * sx, (b[1] - a[1]) * sy)


def length_mm(px: float, spacing: Spacing) -> float:
    """A length with no direction (a radius): the mean spacing is the honest conversion."""
    sy, sx = spacing
    return px * (sx + sy) / 2.0
