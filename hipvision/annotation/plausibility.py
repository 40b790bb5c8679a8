"""Is a set of landmarks believable as a measurement? (Qt-free)

A model's prediction on an image unlike its training data can be confidently wrong or
hopelessly unsure; either way the numbers it yields must not look like a finished
measurement. `assess` lists what is wrong — low landmark confidence and geometry no canine
VD hip radiograph can show — and the window withholds the grade of a prediction with any
concern until a person has reviewed it (edited or verified it).

The limits are deliberately loose: they catch failures (a 15° NA, heads on top of each
other, a 2-px head on a 1,000-px film), not borderline anatomy. Severely dysplastic hips
reach NA ~60°; real and phantom films put the head centres 3–10 head radii apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hipvision.core.geometry import GeometryError
from hipvision.core.landmarks import HipLandmarks, Side

# Mirrors hipvision.ml.predict.LOW_CONFIDENCE (this package must not import ml); a test keeps
# the two equal.
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class PlausibilityLimits:
    na_min: float = 40.0
    na_max: float = 140.0
    # head radius / image short side: below it the head is a speck, above it half the film
    radius_image_min: float = 0.004
    radius_image_max: float = 0.15
    # head radius / distance between the head centres
    radius_distance_min: float = 0.05
    radius_distance_max: float = 0.35
    radius_ratio_max: float = 1.5  # larger / smaller head radius: one dog has two similar heads
    # Below this head radius (full-resolution pixels) the pixels themselves limit the NA: it is an
    # angle between points about a radius apart, so a 1-px error moves it by ~57°/radius (7° at
    # 8 px). On wide-field phantoms, 8-15 px heads gave a 3.8° NA error where 30+ px heads gave 0.9°.
    radius_px_min: float = 8.0
    low_confidence: float = LOW_CONFIDENCE

    def __post_init__(self) -> None:
        for name, v in vars(self).items():
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"PlausibilityLimits.{name} must be a positive number, got {v!r}")
        if not self.na_min < self.na_max <= 180:
            raise ValueError(f"PlausibilityLimits need na_min < na_max <= 180, got {self.na_min!r}, {self.na_max!r}")


DEFAULT_LIMITS = PlausibilityLimits()


@dataclass(frozen=True)
class Concern:
    code: str  # low_confidence | na_range | heads_overlap | radius_image | radius_distance | radius_mismatch |
    # small_heads
    text: str  # for the banner, the panel and tooltips


@dataclass(frozen=True)
class Assessment:
    concerns: tuple[Concern, ...] = ()
    low_confidence: tuple[str, ...] = ()  # confidence keys, e.g. "left.rim"

    @property
    def doubtful(self) -> bool:
        return bool(self.concerns)

    def summary(self) -> str:
        return "; ".join(c.text for c in self.concerns)


def assess(lm: HipLandmarks, image_size: tuple[int, int] | None = None, confidence: dict | None = None,
           limits: PlausibilityLimits = DEFAULT_LIMITS) -> Assessment:
    """Every concern about `lm` (image_size: width, height; confidence: key -> 0..1)."""
    concerns: list[Concern] = []
    low = tuple(sorted(k for k, v in (confidence or {}).items()
                       if isinstance(v, (int, float)) and v < limits.low_confidence))
    if low:
        # Name a few; "all 6" says more than a list of six names on a banner.
        named = ", ".join(low) if len(low) <= 3 else f"{len(low)} of {len(confidence)} landmarks"
        concerns.append(Concern("low_confidence", f"low model confidence ({named})"))
    for side in (Side.RIGHT, Side.LEFT):
        try:
            na = lm.norberg_angle(side)
        except GeometryError:
            concerns.append(Concern("na_range", f"{side.value} NA undefined"))
            continue
        if not limits.na_min <= na <= limits.na_max:
            concerns.append(Concern("na_range", f"{side.value} NA {na:.1f}° is outside "
                                                f"{limits.na_min:g}–{limits.na_max:g}°"))
    r_small, r_big = sorted((lm.left.head_r, lm.right.head_r))
    distance = lm.centre_distance_px()
    if distance < lm.left.head_r + lm.right.head_r:
        concerns.append(Concern("heads_overlap", "the femoral heads overlap"))
    if distance > 0 and (r_small / distance < limits.radius_distance_min
                         or r_big / distance > limits.radius_distance_max):
        concerns.append(Concern("radius_distance", "head radius implausible for the distance between the heads"))
    if image_size is not None and min(image_size) > 0:
        short = min(image_size)
        if r_small / short < limits.radius_image_min or r_big / short > limits.radius_image_max:
            concerns.append(Concern("radius_image", "head radius implausible for the image size"))
    # Only when the radius fits the head distance: a mispredicted radius (already a concern)
    # must not send the vet looking for a higher-resolution file.
    if 0 < r_small < limits.radius_px_min and not any(c.code == "radius_distance" for c in concerns):
        per_px = math.degrees(1.0 / r_small)
        concerns.append(Concern("small_heads", f"the femoral heads are only {r_small:.0f} px in radius: a 1-px "
                                               f"error moves the NA by ~{per_px:.0f}°; open the full-resolution image"))
    if r_big / r_small > limits.radius_ratio_max:
        concerns.append(Concern("radius_mismatch", "the two femoral heads differ too much in size"))
    return Assessment(tuple(concerns), low)
