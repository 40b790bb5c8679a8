"""Editing landmarks as the canvas sees them: handles, moves, nudges, default placement.

Qt-free so the undo commands, the canvas and the tests share one definition of what
"drag the right radius handle to (x, y)" does to a `HipLandmarks`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hipvision.core.geometry import CircleFit, GeometryError
from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks, SideMapping

# Editable points per side: the head centre, a point on the head outline that sets the
# radius, and the craniolateral acetabular rim.
HANDLE_PARTS = ("head", "radius", "rim")
MIN_RADIUS_PX = 1.0

_PART_NAMES = {
    "head": "femoral head centre",
    "radius": "femoral head radius",
    "rim": "craniolateral acetabular rim",
}


@dataclass(frozen=True)
class HandleKey:
    side: Side
    part: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        if self.part not in HANDLE_PARTS:
            raise ValueError(f"HandleKey.part must be one of {HANDLE_PARTS}, got {self.part!r}")

    @property
    def name(self) -> str:
        """'Right femoral head centre' — what the user sees on hover and in undo history."""
        return f"{self.side.value.capitalize()} {_PART_NAMES[self.part]}"


ALL_HANDLES = tuple(HandleKey(s, p) for s in (Side.RIGHT, Side.LEFT) for p in HANDLE_PARTS)


def lateral_sign(lm: HipLandmarks, side: Side | str) -> float:
    """+1 if the side's lateral direction is +x on the image, -1 otherwise."""
    s = Side(side)
    this, other = lm.side(s), lm.side(s.other)
    return 1.0 if this.head_x >= other.head_x else -1.0


def radius_handle_position(lm: HipLandmarks, side: Side | str) -> tuple[float, float]:
    """On the head outline, 45 degrees lateral-caudal: away from the rim (craniolateral) and
    from the line between the heads, so the three handles of a hip never sit on each other."""
    s = lm.side(side)
    d = lateral_sign(lm, side) * math.sqrt(0.5)
    return (s.head_x + d * s.head_r, s.head_y + math.sqrt(0.5) * s.head_r)


def handle_position(lm: HipLandmarks, key: HandleKey) -> tuple[float, float]:
    s = lm.side(key.side)
    if key.part == "head":
        return s.head
    if key.part == "rim":
        return s.rim
    return radius_handle_position(lm, key.side)


def move_handle(lm: HipLandmarks, key: HandleKey, x: float, y: float) -> HipLandmarks:
    """The landmarks with one handle at (x, y). Moving a head centre keeps its radius (the
    radius handle travels with it); the rim is acetabulum, not femur, so it stays."""
    s = lm.side(key.side)
    if key.part == "head":
        new = SideLandmarks(x, y, s.head_r, s.rim_x, s.rim_y)
    elif key.part == "rim":
        new = SideLandmarks(s.head_x, s.head_y, s.head_r, x, y)
    else:
        r = max(MIN_RADIUS_PX, math.hypot(x - s.head_x, y - s.head_y))
        new = SideLandmarks(s.head_x, s.head_y, r, s.rim_x, s.rim_y)
    return lm.with_side(key.side, new)


def nudge_handle(lm: HipLandmarks, key: HandleKey, dx: float, dy: float) -> HipLandmarks:
    x, y = handle_position(lm, key)
    if key.part == "radius":
        # A nudge of the radius handle changes the radius by the step along the outward
        # direction, so "right arrow on the right-side outline" grows or shrinks by 1 px.
        s = lm.side(key.side)
        ux, uy = (x - s.head_x) / s.head_r, (y - s.head_y) / s.head_r
        step = dx * ux + dy * uy
        r = max(MIN_RADIUS_PX, s.head_r + step)
        return lm.with_side(key.side, SideLandmarks(s.head_x, s.head_y, r, s.rim_x, s.rim_y))
    return move_handle(lm, key, x + dx, y + dy)


def apply_circle_fit(lm: HipLandmarks, fit: CircleFit) -> tuple[HipLandmarks, Side]:
    """Replace the head circle nearest the fitted centre (the user clicked one head's outline)."""
    if not (math.isfinite(fit.r) and fit.r > 0):
        raise GeometryError(f"fitted radius {fit.r!r} is not usable")
    side = min(Side, key=lambda s: math.hypot(lm.side(s).head_x - fit.cx, lm.side(s).head_y - fit.cy))
    s = lm.side(side)
    return lm.with_side(side, SideLandmarks(fit.cx, fit.cy, fit.r, s.rim_x, s.rim_y)), side


def hips_box(lm: HipLandmarks, width: int | None = None, height: int | None = None,
             margin: float = 0.45) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) around both hips with some pelvis and femur: the view a reader zooms
    to. `margin` is a fraction of the larger of the head distance and four head radii;
    with an image size the box is clipped to the image."""
    xs = [lm.left.head_x, lm.right.head_x, lm.left.rim_x, lm.right.rim_x]
    ys = [lm.left.head_y, lm.right.head_y, lm.left.rim_y, lm.right.rim_y]
    m = margin * max(lm.centre_distance_px(), 4 * max(lm.left.head_r, lm.right.head_r))
    x0, y0, x1, y1 = min(xs) - m, min(ys) - m, max(xs) + m, max(ys) + m
    if width is not None and height is not None:
        x0, y0, x1, y1 = max(-0.5, x0), max(-0.5, y0), min(width - 0.5, x1), min(height - 0.5, y1)
    return x0, y0, x1, y1


def default_landmarks(width: int, height: int, mapping: SideMapping = SideMapping()) -> HipLandmarks:
    """A starting placement from image proportions when nothing is stored (no prediction yet).

    On a VD hip-extended view the heads sit near mid-height, about a third of the width
    apart; the rims are put at NA 105 degrees so an unplaced image reads 'normal' rather than
    a frightening number. The caller marks it as unplaced until the user moves or verifies it.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    r = 0.04 * min(width, height)
    y = 0.45 * height
    theta = math.radians(75.0)  # NA = 180 - theta for a rim lateral-cranial of the head
    sides = []
    for x, lateral in ((0.35 * width, -1.0), (0.65 * width, 1.0)):
        sides.append(SideLandmarks(x, y, r, x + lateral * 1.15 * r * math.cos(theta), y - 1.15 * r * math.sin(theta)))
    return mapping.from_image_order(sides[0], sides[1])

