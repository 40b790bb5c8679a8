"""Plane geometry for the Norberg angle: angles between rays and least-squares circles.

Coordinates are image pixels (origin top-left, x right, y down). Everything is float64:
a Norberg angle is reported to 0.1 degree and tested against an independent computation
to 1e-6 degree, so no float32 shortcuts here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class GeometryError(ValueError):
    """Input that has no geometric answer (coincident points, collinear outline, ...)."""


# Points closer than this (in pixels) are treated as coincident: an angle at a vertex
# that coincides with one of its arms' ends is undefined, not zero.
EPS_PX = 1e-9


def angle_at(vertex: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angle in degrees (0..180) at `vertex` between the rays vertex->a and vertex->b.

    atan2(|cross|, dot) rather than acos(dot/(|u||v|)): acos loses precision near 0 and 180
    degrees, which is exactly where badly subluxated hips and mis-clicks land.
    """
    ux, uy = a[0] - vertex[0], a[1] - vertex[1]
    vx, vy = b[0] - vertex[0], b[1] - vertex[1]
    if math.hypot(ux, uy) <= EPS_PX or math.hypot(vx, vy) <= EPS_PX:
        raise GeometryError(f"angle undefined: a ray from vertex {vertex} has zero length")
    cross = ux * vy - uy * vx
    dot = ux * vx + uy * vy
    return math.degrees(math.atan2(abs(cross), dot))


@dataclass(frozen=True)
class CircleFit:
    """A fitted circle and how well the outline points agree with it."""

    cx: float
    cy: float
    r: float
    rms_residual: float  # root-mean-square of (distance to centre - r), pixels
    max_residual: float
    n_points: int


def fit_circle(points) -> CircleFit:
    """Least-squares circle through >= 3 outline points.

    Algebraic (Kasa) fit for a starting point, then Gauss-Newton on the geometric distance,
    which is the quantity a user sees (how far the drawn circle is from the clicked outline).
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise GeometryError(f"circle fit needs points as an (N, 2) array, got shape {p.shape}")
    if len(p) < 3:
        raise GeometryError(f"circle fit needs at least 3 points, got {len(p)}")
    if not np.all(np.isfinite(p)):
        raise GeometryError("circle fit got a non-finite coordinate")
    centred = p - p.mean(axis=0)
    scale = float(np.sqrt((centred**2).sum(axis=1).mean()))
    if scale <= EPS_PX:
        raise GeometryError("circle fit: all points coincide")
    q = centred / scale  # conditioning: the fit is then independent of image size
    # Collinearity: the smaller singular value of the centred cloud vanishes.
    sv = np.linalg.svd(q, compute_uv=False)
    if sv[-1] / sv[0] < 1e-9:
        raise GeometryError("circle fit: the points are collinear, no circle passes through them")
    if len(np.unique(np.round(q, 12), axis=0)) < 3:
        raise GeometryError("circle fit needs at least 3 distinct points")

    # Kasa: x^2 + y^2 + D x + E y + F = 0, linear least squares.
    a = np.column_stack([q[:, 0], q[:, 1], np.ones(len(q))])
    rhs = -(q[:, 0] ** 2 + q[:, 1] ** 2)
    (d, e, f), *_ = np.linalg.lstsq(a, rhs, rcond=None)
    cx, cy = -d / 2.0, -e / 2.0
    r2 = cx * cx + cy * cy - f
    if not np.isfinite(r2) or r2 <= 0:
        raise GeometryError("circle fit: the points do not determine a circle")
    c = np.array([cx, cy])
    r = math.sqrt(r2)

    # Gauss-Newton on residuals d_i = |q_i - c| - r.
    for _ in range(50):
        diff = q - c
        dist = np.hypot(diff[:, 0], diff[:, 1])
        if np.any(dist < 1e-12):
            break
        res = dist - r
        jac = np.column_stack([-diff[:, 0] / dist, -diff[:, 1] / dist, -np.ones(len(q))])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        c = c + step[:2]
        r = r + step[2]
        if np.max(np.abs(step)) < 1e-14:
            break
    r = abs(r)
    res = np.hypot(*(q - c).T) - r
    centre = c * scale + p.mean(axis=0)
    return CircleFit(
        cx=float(centre[0]),
        cy=float(centre[1]),
        r=float(r * scale),
        rms_residual=float(np.sqrt(np.mean(res**2)) * scale),
        max_residual=float(np.max(np.abs(res)) * scale),
        n_points=int(len(p)),
    )


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


MIN_HEAD_GAP_PX = 2.0  # two clicks closer than this are one spot, not two femoral heads


def head_clicks(points) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two rough femoral-head centres (a click each), image-left first whatever the click order.

    The one rule the place-with-clicks assist applies everywhere (CLI, engine job, predictor):
    two finite (x, y) points at least MIN_HEAD_GAP_PX apart; GeometryError names what is wrong."""
    try:
        (x1, y1), (x2, y2) = ((float(x), float(y)) for x, y in points)
    except (TypeError, ValueError):
        raise GeometryError(f"heads must be two finite (x, y) points, got {points!r}") from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise GeometryError(f"heads must be two finite (x, y) points, got {points!r}")
    if math.hypot(x2 - x1, y2 - y1) < MIN_HEAD_GAP_PX:
        raise GeometryError("both heads are on the same spot; click each femoral head")
    return ((x1, y1), (x2, y2)) if x1 <= x2 else ((x2, y2), (x1, y1))
