"""Phantom geometry: the pose of the pelvis in the image and the exact hip landmarks.

Everything anatomical is laid out in a *frame* whose unit is the base femoral-head radius:
origin midway between the two acetabular centres, x towards the image's right, y caudal
(towards the image's bottom). A similarity transform (scale, tilt, shift) maps the frame to
pixels; similarity transforms preserve angles, so a Norberg angle built in the frame is the
Norberg angle in the image.

The landmarks come first and the drawing follows them: each hip's rim point is placed on the
acetabular cup circle exactly where the ray from its head centre, turned by the target NA
away from the other head, meets that circle. The anatomy module then draws the cup edge
through that point and the head disc around the head centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping

DYSPLASIA_NA = 100.0  # hips drawn below this count towards `dysplastic_fraction`
# Plausible range of the rim's direction from the acetabular centre, degrees from cranial
# towards lateral: beyond it the cup would open medially or the rim sit beside the head.
RIM_PSI_RANGE = (-42.0, 52.0)
RIM_DISTANCE_RANGE = (1.02, 2.3)  # rim to head centre, in head radii


@dataclass(frozen=True)
class Frame:
    """Similarity transform from frame units (head radii) to pixels."""

    ox: float
    oy: float
    scale: float  # pixels per frame unit
    angle: float  # radians, positive turns the pelvis clockwise on screen (y is down)

    def to_px(self, pts) -> np.ndarray:
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        c, s = math.cos(self.angle), math.sin(self.angle)
        x = self.ox + self.scale * (c * p[:, 0] - s * p[:, 1])
        y = self.oy + self.scale * (s * p[:, 0] + c * p[:, 1])
        return np.stack([x, y], axis=1)

    def point_px(self, pt) -> tuple[float, float]:
        x, y = self.to_px(pt)[0]
        return float(x), float(y)

    def grid(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Frame coordinates (float32) of the pixel centres in box = (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = box
        xs = np.arange(x0, x1, dtype=np.float32) - np.float32(self.ox)
        ys = np.arange(y0, y1, dtype=np.float32) - np.float32(self.oy)
        c, s = np.float32(math.cos(self.angle) / self.scale), np.float32(math.sin(self.angle) / self.scale)
        fx = xs[None, :] * c + ys[:, None] * s
        fy = ys[:, None] * c - xs[None, :] * s
        return fx, fy

    def box(self, pts, pad: float, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
        """Pixel bounding box of frame points, padded by `pad` frame units, clipped to the image."""
        p = self.to_px(pts)
        m = pad * self.scale + 2
        h, w = shape
        x0, y0 = max(int(math.floor(p[:, 0].min() - m)), 0), max(int(math.floor(p[:, 1].min() - m)), 0)
        x1, y1 = min(int(math.ceil(p[:, 0].max() + m)), w), min(int(math.ceil(p[:, 1].max() + m)), h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1


@dataclass(frozen=True)
class HipSide:
    """One hip in frame units, by image side (sign -1: image left, +1: image right)."""

    sign: int
    patient_side: str
    target_na: float
    acetabulum: tuple[float, float]
    socket_r: float  # radius of the acetabular cup circle
    head: tuple[float, float]
    head_r: float
    rim: tuple[float, float]  # on the cup circle, exactly
    rim_psi: float  # direction of the rim from the acetabular centre: degrees from cranial towards lateral
    caudal_psi: float  # where the cup's caudolateral edge ends (same convention)
    severity: float  # 0 normal .. 1 severely dysplastic
    flatten: float  # 1 = round head; < 1 flattens its craniolateral face (remodelling)


def psi_dir(sign: int, psi_deg: float) -> np.ndarray:
    """Unit vector in the frame at `psi` degrees from cranial towards lateral."""
    t = math.radians(psi_deg)
    return np.array([sign * math.sin(t), -math.cos(t)])


def psi_of(sign: int, v) -> float:
    return math.degrees(math.atan2(sign * v[0], -v[1]))


def sample_na_pair(rng: np.random.Generator, na_range: tuple[float, float], dysplastic_fraction: float) -> dict:
    """NA targets for the patient's left and right hip.

    Hips of one dog are correlated (the second copies the first's status 60 % of the time,
    otherwise draws afresh), which keeps the marginal share of dysplastic hips exactly
    `dysplastic_fraction`. Normal hips cluster around 110 degrees, dysplastic ones spread evenly.
    """
    lo, hi = na_range
    low_band = (lo, min(hi, DYSPLASIA_NA))
    high_band = (max(lo, DYSPLASIA_NA), hi)
    out = {}
    first = None
    for side in ("left", "right"):
        u_status, u_copy, u_val, u_norm = rng.random(4)
        dysplastic = u_status < dysplastic_fraction
        if first is not None and u_copy < 0.6:
            dysplastic = first
        first = dysplastic if first is None else first
        if high_band[1] <= high_band[0]:
            dysplastic = True
        elif low_band[1] <= low_band[0]:
            dysplastic = False
        if dysplastic:
            na = low_band[0] + u_val * (low_band[1] - low_band[0])
        else:
            # A normal around 110 deg folded into the band: mass near 105-115, tails to both ends.
            z = math.sqrt(-2.0 * math.log(max(u_norm, 1e-12))) * math.cos(2 * math.pi * u_val)
            na = 110.0 + 6.0 * z
            span = high_band[1] - high_band[0]
            na = high_band[0] + abs((na - high_band[0]) % (2 * span) - span) if span > 0 else high_band[0]
            na = min(max(na, high_band[0]), high_band[1])
        out[side] = float(na)
    return out


def _rim_on_cup(head, other_head, sign: int, na_deg: float, centre, radius: float) -> tuple[np.ndarray, float]:
    """Point on the cup circle on the ray from `head` at `na_deg` from the line to `other_head`.

    The ray turns from the medial direction towards cranial; returns (point, distance along ray)
    or raises ValueError when the ray misses the circle.
    """
    h = np.asarray(head, dtype=np.float64)
    u = np.asarray(other_head, dtype=np.float64) - h
    u /= np.hypot(*u)
    # Turning towards cranial (negative frame y) is clockwise on screen for the image-left
    # hip (u points right) and counter-clockwise for the image-right one.
    t = math.radians(na_deg) * (-1.0 if sign < 0 else 1.0)
    c, s = math.cos(t), math.sin(t)
    d = np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
    f = h - np.asarray(centre, dtype=np.float64)
    b = float(f @ d)
    disc = b * b - (float(f @ f) - radius * radius)
    if disc < 0:
        raise ValueError("ray misses the cup")
    dist = -b + math.sqrt(disc)
    if dist <= 0:
        raise ValueError("cup behind the head")
    return h + dist * d, dist


def build_hips(rng: np.random.Generator, na: dict, mapping: SideMapping, randomise: float) -> tuple[HipSide, HipSide]:
    """Acetabula, heads and rims for the image-left and image-right hip (frame units)."""

    def jitter(lo: float, hi: float, canonical: float) -> float:
        return canonical + randomise * (rng.uniform(lo, hi) - canonical)

    half_gap = jitter(4.1, 4.7, 4.4)
    sides = []
    for sign in (-1, 1):
        image_side = "image_left" if sign < 0 else "image_right"
        patient = "right" if (image_side == "image_left") == mapping.right_on_image_left else "left"
        sides.append((sign, patient, na[patient]))

    head_r = {sign: 1.0 + randomise * rng.uniform(-0.04, 0.04) for sign, _, _ in sides}
    caudal_psi = {sign: jitter(138.0, 158.0, 148.0) for sign, _, _ in sides}
    flat_draw = {sign: rng.random() for sign, _, _ in sides}
    for attempt in range(60):
        params = {}
        for sign, _patient, target in sides:
            sev = min(max((104.0 - target) / 34.0, 0.0), 1.0)
            if attempt >= 40:  # fall back to a concentric head in a shallow cup (always solvable)
                sublux, lift, socket = 0.0, 0.0, 1.1 * head_r[sign]
            else:
                sublux = sev * rng.uniform(0.15, 0.7) + randomise * rng.uniform(-0.02, 0.05)
                lift = -sev * rng.uniform(0.0, 0.2) + randomise * rng.uniform(-0.06, 0.06)
                socket = head_r[sign] * (1.06 + randomise * rng.uniform(0.0, 0.06) + sev * rng.uniform(0.08, 0.3))
            ac = (sign * half_gap, 0.0)
            params[sign] = (ac, socket, (ac[0] + sign * sublux, lift), sev)
        try:
            out = []
            for sign, patient, target in sides:
                ac, socket, head, sev = params[sign]
                other = params[-sign][2]
                rim, dist = _rim_on_cup(head, other, sign, target, ac, socket)
                psi = psi_of(sign, rim - np.asarray(ac))
                if not (RIM_PSI_RANGE[0] <= psi <= RIM_PSI_RANGE[1]):
                    raise ValueError(f"rim direction {psi:.1f}")
                if not (RIM_DISTANCE_RANGE[0] <= dist / head_r[sign] <= RIM_DISTANCE_RANGE[1]):
                    raise ValueError(f"rim distance {dist:.2f}")
                flatten = 1.0 - 0.12 * sev if flat_draw[sign] < 0.5 * sev else 1.0
                out.append(HipSide(
                    sign=sign, patient_side=patient, target_na=target, acetabulum=ac, socket_r=socket,
                    head=(float(head[0]), float(head[1])), head_r=head_r[sign],
                    rim=(float(rim[0]), float(rim[1])), rim_psi=psi,
                    caudal_psi=caudal_psi[sign] + 8.0 * sev, severity=sev, flatten=flatten,
                ))
            return out[0], out[1]
        except ValueError:
            continue
    raise RuntimeError(f"no phantom hip geometry reaches NA {na}")  # unreachable for NA in 50..140


def pixel_landmarks(frame: Frame, hips: tuple[HipSide, HipSide], mapping: SideMapping) -> HipLandmarks:
    def side(h: HipSide) -> SideLandmarks:
        hx, hy = frame.point_px(h.head)
        rx, ry = frame.point_px(h.rim)
        return SideLandmarks(hx, hy, h.head_r * frame.scale, rx, ry)

    return mapping.from_image_order(side(hips[0]), side(hips[1]))
