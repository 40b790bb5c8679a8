"""Hip landmarks per patient side and the Norberg angle they define.

Landmarks are stored by *patient* side (left/right hip of the dog), never by image side:
the image<->patient mapping is a per-image property (`SideMapping`) the user can swap
without touching any coordinate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from enum import Enum

from hipvision.core.geometry import GeometryError, angle_at, distance


class Side(str, Enum):
    """Patient side."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT


class LandmarkError(ValueError):
    """Landmarks that are not usable (non-finite, non-positive radius, ...)."""


def _check_finite(owner: str, **values: float) -> None:
    for name, v in values.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise LandmarkError(f"{owner}.{name} must be a finite number, got {v!r}")


@dataclass(frozen=True)
class SideLandmarks:
    """One hip: femoral-head centre and radius, craniolateral acetabular rim point (pixels)."""

    head_x: float
    head_y: float
    head_r: float
    rim_x: float
    rim_y: float

    def __post_init__(self) -> None:
        _check_finite(
            "SideLandmarks",
            head_x=self.head_x,
            head_y=self.head_y,
            head_r=self.head_r,
            rim_x=self.rim_x,
            rim_y=self.rim_y,
        )
        if self.head_r <= 0:
            raise LandmarkError(f"SideLandmarks.head_r must be > 0, got {self.head_r!r}")
        for name in ("head_x", "head_y", "head_r", "rim_x", "rim_y"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def head(self) -> tuple[float, float]:
        return (self.head_x, self.head_y)

    @property
    def rim(self) -> tuple[float, float]:
        return (self.rim_x, self.rim_y)

    def moved(self, dx: float, dy: float) -> SideLandmarks:
        return replace(self, head_x=self.head_x + dx, head_y=self.head_y + dy,
                       rim_x=self.rim_x + dx, rim_y=self.rim_y + dy)


# Names of the editable landmarks, used by the GUI, the model and the interchange formats.
LANDMARK_NAMES = ("head", "radius", "rim")


@dataclass(frozen=True)
class HipLandmarks:
    """Both hips of one radiograph, by patient side."""

    left: SideLandmarks
    right: SideLandmarks

    def __post_init__(self) -> None:
        for s in ("left", "right"):
            if not isinstance(getattr(self, s), SideLandmarks):
                raise LandmarkError(f"HipLandmarks.{s} must be SideLandmarks, got {type(getattr(self, s)).__name__}")

    def side(self, side: Side | str) -> SideLandmarks:
        return self.left if Side(side) is Side.LEFT else self.right

    def with_side(self, side: Side | str, value: SideLandmarks) -> HipLandmarks:
        return replace(self, **{Side(side).value: value})

    def norberg_angle(self, side: Side | str) -> float:
        """NA of one hip in degrees: the angle at that head's centre between the line to the
        other head's centre and the line to the same side's craniolateral rim point."""
        s = Side(side)
        this, other = self.side(s), self.side(s.other)
        try:
            return angle_at(this.head, other.head, this.rim)
        except GeometryError as exc:
            raise GeometryError(f"{s.value} Norberg angle: {exc}") from None

    def norberg_angles(self) -> dict[Side, float]:
        return {s: self.norberg_angle(s) for s in Side}

    def centre_distance_px(self) -> float:
        return distance(self.left.head, self.right.head)

    def swapped(self) -> HipLandmarks:
        """The same points with patient sides exchanged (the user's 'swap sides')."""
        return HipLandmarks(left=self.right, right=self.left)

    def to_dict(self) -> dict:
        return {"left": asdict(self.left), "right": asdict(self.right)}

    @classmethod
    def from_dict(cls, d: dict) -> HipLandmarks:
        try:
            return cls(left=SideLandmarks(**d["left"]), right=SideLandmarks(**d["right"]))
        except (KeyError, TypeError) as exc:
            raise LandmarkError(f"malformed landmarks {d!r}: {exc}") from None


@dataclass(frozen=True)
class SideMapping:
    """Where each patient side appears on the image.

    VD radiographs are conventionally viewed with the patient's right on the image's left;
    an L/R marker or an unusual positioning can say otherwise, so this is stored per image.
    """

    right_on_image_left: bool = True

    def patient_side_of_image_left(self) -> Side:
        return Side.RIGHT if self.right_on_image_left else Side.LEFT

    def image_side(self, side: Side | str) -> str:
        """'image_left' or 'image_right' for a patient side."""
        on_left = (Side(side) is Side.RIGHT) == self.right_on_image_left
        return "image_left" if on_left else "image_right"

    def swapped(self) -> SideMapping:
        return SideMapping(right_on_image_left=not self.right_on_image_left)

    def from_image_order(self, image_left: SideLandmarks, image_right: SideLandmarks) -> HipLandmarks:
        """Build patient-side landmarks from the hip on the image's left and right."""
        if self.right_on_image_left:
            return HipLandmarks(left=image_right, right=image_left)
        return HipLandmarks(left=image_left, right=image_right)

    def to_image_order(self, lm: HipLandmarks) -> tuple[SideLandmarks, SideLandmarks]:
        """(hip on image left, hip on image right)."""
        if self.right_on_image_left:
            return lm.right, lm.left
        return lm.left, lm.right
