"""Landmark configurations with a requested Norberg-angle distribution.

Real configurations are taken from the training annotations and each hip's acetabular rim
point is rotated about its own head centre until the NA equals the drawn target exactly. The
rotation keeps the rim's distance from the head and the side of the head-head line it lies on,
so a hip stays a hip; targets a drawn hip cannot reach within `max_rotation_deg` are served by
another training hip instead (rare dysplastic angles borrow the closest real shapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks


@dataclass(frozen=True)
class PlausibilityLimits:
    na_min: float = 50.0
    na_max: float = 135.0
    max_rotation_deg: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.na_min < self.na_max < 180:
            raise ValueError(f"na_min/na_max: need 0 < na_min < na_max < 180, got {self.na_min}, {self.na_max}")
        if not 0 < self.max_rotation_deg <= 90:
            raise ValueError(f"max_rotation_deg: must be in (0, 90], got {self.max_rotation_deg}")


@dataclass(frozen=True)
class NADistribution:
    """'uniform:LO:HI', 'normal:MEAN:SD' (degrees) or 'data' (keep each hip's own NA)."""

    kind: str
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "normal", "data"):
            raise ValueError(f"na distribution: kind must be uniform, normal or data, got {self.kind!r}")
        if self.kind == "uniform" and not (0 < self.a <= self.b < 180):
            raise ValueError(f"na distribution: uniform needs 0 < LO <= HI < 180, got {self.a}:{self.b}")
        if self.kind == "normal" and not (0 < self.a < 180 and self.b >= 0):
            raise ValueError(f"na distribution: normal needs 0 < MEAN < 180 and SD >= 0, got {self.a}:{self.b}")

    @classmethod
    def parse(cls, spec: str) -> NADistribution:
        parts = str(spec).strip().lower().split(":")
        if parts == ["data"]:
            return cls("data")
        if len(parts) != 3 or parts[0] not in ("uniform", "normal"):
            raise ValueError(f"na distribution: expected 'uniform:LO:HI', 'normal:MEAN:SD' or 'data', got {spec!r}")
        try:
            a, b = float(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"na distribution: numbers expected in {spec!r}") from None
        return cls(parts[0], a, b)

    def __str__(self) -> str:
        return "data" if self.kind == "data" else f"{self.kind}:{self.a:g}:{self.b:g}"

    def check(self, limits: PlausibilityLimits) -> None:
        lo, hi = (self.a, self.b) if self.kind == "uniform" else (self.a, self.a)
        if self.kind != "data" and (lo < limits.na_min or hi > limits.na_max):
            raise ValueError(f"na distribution {self}: outside the plausible NA range "
                             f"{limits.na_min:g}..{limits.na_max:g} degrees")

    def sample(self, rng: np.random.Generator, limits: PlausibilityLimits) -> float | None:
        """One target NA (None for 'data'); normal draws are redrawn until plausible."""
        if self.kind == "data":
            return None
        if self.kind == "uniform":
            return float(rng.uniform(self.a, self.b))
        for _ in range(1000):
            v = float(rng.normal(self.a, self.b))
            if limits.na_min <= v <= limits.na_max:
                return v
        raise ValueError(f"na distribution {self}: almost no mass in {limits.na_min:g}..{limits.na_max:g} degrees")


def _signed_angle(lm: HipLandmarks, side: Side) -> float:
    this, other = lm.side(side), lm.side(side.other)
    ux, uy = other.head_x - this.head_x, other.head_y - this.head_y
    vx, vy = this.rim_x - this.head_x, this.rim_y - this.head_y
    return math.degrees(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy))


def rotation_needed(lm: HipLandmarks, side: Side | str, target_deg: float) -> float:
    """Degrees the rim must turn about its head (image orientation) so that NA == target."""
    side = Side(side)
    theta = _signed_angle(lm, side)
    return math.copysign(target_deg, theta if theta != 0 else 1.0) - theta


def retarget_na(lm: HipLandmarks, side: Side | str, target_deg: float) -> HipLandmarks:
    """`lm` with `side`'s rim rotated about its head centre so its NA equals `target_deg`."""
    side = Side(side)
    if not 0 < target_deg < 180:
        raise ValueError(f"target NA must be in (0, 180) degrees, got {target_deg}")
    d = math.radians(rotation_needed(lm, side, target_deg))
    s = lm.side(side)
    vx, vy = s.rim_x - s.head_x, s.rim_y - s.head_y
    # Rotation by d in the (x right, y down) frame, matching _signed_angle's orientation.
    c, si = math.cos(d), math.sin(d)
    moved = SideLandmarks(s.head_x, s.head_y, s.head_r, s.head_x + c * vx - si * vy, s.head_y + si * vx + c * vy)
    return lm.with_side(side, moved)


@dataclass(frozen=True)
class DrawnCondition:
    source: int  # index into the bank of training configurations
    landmarks: HipLandmarks  # in the source image's pixels, with the targeted NAs
    sides: tuple[str, ...]  # patient sides whose NA was retargeted
    targets: tuple[float, ...]


def _pick(bank: list[HipLandmarks], target: float | None, rng, limits) -> tuple[int, Side]:
    """A (configuration, side) that can reach `target` within the rotation limit."""
    for i in rng.permutation(len(bank)):
        for s in [(Side.LEFT, Side.RIGHT)[j] for j in rng.permutation(2)]:
            if target is None or abs(rotation_needed(bank[i], s, target)) <= limits.max_rotation_deg:
                return int(i), s
    reach = [bank[i].norberg_angle(s) for i in range(len(bank)) for s in Side]
    raise ValueError(f"no training hip can reach NA {target:.1f} deg within {limits.max_rotation_deg:g} deg of rim "
                     f"rotation (training NAs span {min(reach):.1f}..{max(reach):.1f} deg)")


def draw_hip_conditions(bank: list[HipLandmarks], n: int, dist: NADistribution, rng: np.random.Generator,
                        limits: PlausibilityLimits = PlausibilityLimits()) -> list[DrawnCondition]:
    """n single-hip conditions (for crops): one hip of one training configuration, its NA retargeted."""
    if not bank:
        raise ValueError("no labelled training images to draw landmark configurations from")
    dist.check(limits)
    out = []
    for _ in range(n):
        target = dist.sample(rng, limits)
        i, side = _pick(bank, target, rng, limits)
        lm = bank[i] if target is None else retarget_na(bank[i], side, target)
        out.append(DrawnCondition(i, lm, (side.value,), (lm.norberg_angle(side),)))
    return out


def draw_pair_conditions(bank: list[HipLandmarks], n: int, dist: NADistribution, rng: np.random.Generator,
                         limits: PlausibilityLimits = PlausibilityLimits()) -> list[DrawnCondition]:
    """n whole-pelvis conditions: both hips retargeted to independent draws. A hip's NA depends
    on the other head only through the head-head line, which rim rotations do not move."""
    if not bank:
        raise ValueError("no labelled training images to draw landmark configurations from")
    dist.check(limits)
    out = []
    for _ in range(n):
        tl, tr = dist.sample(rng, limits), dist.sample(rng, limits)

        def ok(i: int, tl=tl, tr=tr) -> bool:  # bound now: the loop rebinds tl, tr
            return all(t is None or abs(rotation_needed(bank[i], s, t)) <= limits.max_rotation_deg
                       for s, t in ((Side.LEFT, tl), (Side.RIGHT, tr)))

        cands = [int(i) for i in rng.permutation(len(bank)) if ok(int(i))]
        if not cands:
            raise ValueError(f"no training configuration reaches NAs ({tl}, {tr}) within "
                             f"{limits.max_rotation_deg:g} deg of rim rotation")
        i = cands[0]
        lm = bank[i]
        for s, t in ((Side.LEFT, tl), (Side.RIGHT, tr)):
            if t is not None:
                lm = retarget_na(lm, s, t)
        out.append(DrawnCondition(i, lm, ("left", "right"), (lm.norberg_angle("left"), lm.norberg_angle("right"))))
    return out
