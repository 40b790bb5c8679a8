"""What the landmark overlay shows, in image coordinates (Qt-free).

One `Overlay` feeds every renderer — the live canvas, `hipvision render` and the PDF
report — so a number, a label or a grade colour can never differ between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hipvision.annotation.landmark_edit import radius_handle_position
from hipvision.annotation.state import UNGRADED_KINDS
from hipvision.core.geometry import GeometryError
from hipvision.core.grading import DEFAULT_THRESHOLDS, GRADE_COLOURS, Grade, GradeThresholds, bva_points, grade_hint
from hipvision.core.landmarks import HipLandmarks, Side, SideMapping

# Side colours are fixed by *patient* side so that a swap visibly changes the drawing.
SIDE_COLOURS = {Side.RIGHT: "#4fc3f7", Side.LEFT: "#ffb74d"}
SIDE_LETTER = {Side.RIGHT: "R", Side.LEFT: "L"}
CENTRE_LINE_COLOUR = "#e8e8e8"
UNDEFINED_COLOUR = "#9e9e9e"

Point = tuple[float, float]


@dataclass(frozen=True)
class SideOverlay:
    side: Side
    image_side: str  # 'image_left' | 'image_right'
    head: Point
    radius: float
    rim: Point
    radius_handle: Point
    other_head: Point
    na: float | None  # None when undefined (coincident points)
    grade: Grade | None
    bva: int | None

    @property
    def letter(self) -> str:
        return SIDE_LETTER[self.side]

    @property
    def label(self) -> str:
        """'R 108.3°' — the text beside the arc."""
        return f"{self.letter} {self.na:.1f}°" if self.na is not None else f"{self.letter} –"

    @property
    def side_colour(self) -> str:
        return SIDE_COLOURS[self.side]

    @property
    def grade_colour(self) -> str:
        return GRADE_COLOURS[self.grade] if self.grade is not None else UNDEFINED_COLOUR

    @property
    def signed_span_deg(self) -> float:
        """Angle from the ray to the other head to the ray to the rim, in (-180, 180], in
        image coordinates (y down). Its magnitude is the NA; the sign says which way to sweep."""
        a = math.atan2(self.other_head[1] - self.head[1], self.other_head[0] - self.head[0])
        b = math.atan2(self.rim[1] - self.head[1], self.rim[0] - self.head[0])
        d = math.degrees(b - a)
        while d <= -180.0:
            d += 360.0
        while d > 180.0:
            d -= 360.0
        return d


@dataclass(frozen=True)
class Overlay:
    sides: tuple[SideOverlay, SideOverlay]  # the hip on the image's left first
    kind: str  # annotation.state.KINDS: unplaced | model | flagged | user | verified

    @property
    def graded(self) -> bool:
        """False for an unplaced default or a doubtful prediction: not a measurement yet."""
        return self.kind not in UNGRADED_KINDS

    def side(self, side: Side | str) -> SideOverlay:
        s = Side(side)
        return next(o for o in self.sides if o.side is s)


def build_overlay(lm: HipLandmarks, mapping: SideMapping, kind: str = "user",
                  thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Overlay:
    # An unplaced default or a doubtful prediction is not a measurement: its NA is drawn (to
    # drag from) but it gets no grade, no grade colour and no points until a person reviews it.
    graded = kind not in UNGRADED_KINDS
    out = []
    for side in (mapping.patient_side_of_image_left(), mapping.patient_side_of_image_left().other):
        s, o = lm.side(side), lm.side(side.other)
        try:
            na = lm.norberg_angle(side)
        except GeometryError:
            na = None
        out.append(SideOverlay(
            side=side, image_side=mapping.image_side(side), head=s.head, radius=s.head_r, rim=s.rim,
            radius_handle=radius_handle_position(lm, side), other_head=o.head, na=na,
            grade=None if na is None or not graded else grade_hint(na, thresholds),
            bva=None if na is None or not graded else bva_points(na)))
    return Overlay(sides=(out[0], out[1]), kind=kind)
