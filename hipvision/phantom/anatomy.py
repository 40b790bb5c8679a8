"""Phantom anatomy: attenuation maps of the pelvis, spine, femora and soft tissue.

Outlines are templates in *lateral* coordinates (l = distance from the midline towards the
hip's own side, y caudal, unit = head radius; acetabulum at l = 4.4) drawn after the
reference proportions of VD hip-extended radiographs, mirrored per side and stretched by the
random draws. The acetabulum is the exception: the cup circle, the rim point and the head come
from `phantom_geometry` unchanged, and the pelvic outline is *cut* by them, so that the visible
cup edge ends exactly at the stored rim landmark.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hipvision.phantom.draw import (
    add_field,
    add_shape,
    catmull_rom,
    ellipse_pts,
    rounded_box_sdf,
    sdf_profile,
    segment_sdf,
    smooth_noise,
)
from hipvision.phantom.geometry import Frame, HipSide, psi_dir

TEMPLATE_GAP = 4.4  # template l of the acetabular centre

# Hemipelvis outline in two template runs joined by the acetabulum (built from the landmarks):
# symphysis -> pubis -> pelvic inlet (ilial medial border) -> crest -> wing tip -> lateral
# ilial border, then [rim point -> dorsal rim -> caudolateral cup end], then ischium -> arch.
HEMI_CRANIAL = [(0.0, 0.5), (0.9, 0.25), (1.8, -0.15), (2.5, -0.55), (2.75, -1.3), (2.8, -2.3), (2.6, -3.3),
                (2.2, -4.2), (1.75, -4.9), (1.6, -5.6), (2.0, -6.5), (2.6, -7.3), (3.15, -7.95), (3.6, -8.15),
                (3.85, -7.9), (3.8, -7.1), (3.6, -6.0), (3.45, -4.6), (3.45, -3.1)]
HEMI_CAUDAL = [(4.15, 1.95), (4.35, 2.45), (4.75, 3.0), (4.55, 3.6), (3.6, 3.85), (2.4, 3.95), (1.3, 3.8),
               (0.55, 3.45), (0.0, 3.2)]
SACRUM = [(1.75, -6.8), (1.6, -5.3), (0.85, -3.9), (0.5, -3.0)]
# Proximal femur around the head centre (l, y offsets); the shaft is appended per draw.
FEMUR_TOP = [(0.3, -0.8), (0.8, -0.5), (1.1, -0.2), (1.35, -0.5), (1.65, -0.6), (1.95, -0.3), (2.0, 0.3),
             (1.85, 1.0), (1.65, 1.8)]
FEMUR_MEDIAL = [(0.5, 3.2), (0.35, 2.6), (0.3, 2.1), (0.4, 1.6), (0.5, 1.15), (0.3, 0.6)]

# (low, high, canonical) of each anatomical draw; `randomise` blends canonical -> uniform.
RANGES = {
    "pelvis_length": (0.9, 1.1, 1.0),
    "wing_spread": (-0.12, 0.15, 0.0),
    "roll": (-0.45, 0.45, 0.0),  # midline shift from pelvic rotation about the long axis (head radii)
    "obturator_tilt": (-20.0, 15.0, -5.0),
    "dar_bulge": (0.08, 0.32, 0.2),
    "ilium_waist": (0.1, 0.45, 0.3),
    "cup_arc_deg": (85.0, 130.0, 110.0),
    "femur_div_left": (-3.0, 8.0, 2.0),
    "femur_div_right": (-3.0, 8.0, 2.0),
    "femur_length": (13.5, 17.0, 15.5),
    "bone_density": (0.8, 1.25, 1.0),
    "cortex": (0.8, 1.3, 1.0),
    "head_density": (0.8, 1.15, 1.0),
    "lumbar_length": (1.9, 2.4, 2.15),
    "vertebra_width": (0.75, 1.0, 0.88),
    "spine_curve": (-0.8, 0.8, 0.0),
    "tail_curve": (-1.2, 1.2, 0.0),
    "trunk_width": (5.5, 9.5, 7.8),
    "trunk_taper": (-0.5, 1.5, 0.5),
    "thigh_width": (3.6, 4.8, 4.2),
    "thigh_split": (1.0, 4.0, 2.5),
    "soft_thickness": (0.4, 0.85, 0.55),
    "fat": (0.15, 1.2, 0.5),
    "bowel": (0.0, 0.14, 0.06),
    "gas": (0.0, 1.0, 0.0),  # above 0.5: bowel gas over the pelvic canal
    "texture": (0.02, 0.08, 0.045),
}


def sample_anatomy(rng: np.random.Generator, randomise: float) -> dict:
    out = {}
    for name, (lo, hi, canon) in RANGES.items():
        out[name] = float(canon + randomise * (rng.uniform(lo, hi) - canon))
    return out


class _Side:
    """Template (l, y) -> frame (x, y) for one side, with the anatomy's stretch and roll."""

    def __init__(self, sign: int, gap: float, a: dict):
        self.sign, self.kl, self.ky = sign, gap / TEMPLATE_GAP, a["pelvis_length"]
        self.roll, self.spread = a["roll"], a["wing_spread"]

    def __call__(self, pts) -> np.ndarray:
        p = np.asarray(pts, dtype=np.float64)
        lat, y = p[:, 0].copy(), p[:, 1]
        lat *= 1.0 + self.spread * np.clip(-y / 7.6, 0.0, 1.0) ** 2 * 2.0
        # Roll moves the midline relative to the acetabula; the hip joints themselves stay put.
        w = np.clip((TEMPLATE_GAP - 1.2 - lat) / (TEMPLATE_GAP - 1.2), 0.0, 1.0)
        x = self.sign * lat * self.kl + self.roll * w
        return np.stack([x, y * np.where(np.abs(y) > 0.8, self.ky, 1.0 + (self.ky - 1.0) * np.abs(y) / 0.8)], axis=1)


def _hemipelvis(hip: HipSide, side: _Side, a: dict) -> np.ndarray:
    """Outline of one hemipelvis (frame units).

    The outline turns at the rim landmark itself: the lateral ilial border comes down to it,
    the dorsal rim leaves it caudally, so the cup edge drawn along the socket circle ends on
    the bone's outline exactly there."""
    s = hip.sign
    ac = np.asarray(hip.acetabulum)
    rim = np.asarray(hip.rim)
    cl = ac + hip.socket_r * psi_dir(s, hip.caudal_psi)
    cranial = catmull_rom(side(HEMI_CRANIAL), 8, closed=False)
    caudal = catmull_rom(np.concatenate([[cl], side(HEMI_CAUDAL)]), 8, closed=False)
    tt = np.linspace(0.0, 1.0, 14)[:, None]
    # The ilial body's lateral border: concave (a waist) down to the rim.
    top = cranial[-1]
    waist = 0.5 * (top + rim) + np.array([-s * a["ilium_waist"], 0.0])
    border = (1 - tt) ** 2 * top + 2 * tt * (1 - tt) * waist + tt ** 2 * rim
    # Dorsal acetabular rim: from the rim point, bulging laterally over the head.
    ctrl = np.array([rim[0] + s * a["dar_bulge"] * (1.0 - 0.5 * hip.severity), 0.5 * (rim[1] + cl[1])])
    dar = (1 - tt) ** 2 * rim + 2 * tt * (1 - tt) * ctrl + tt ** 2 * cl
    return np.concatenate([cranial, border[1:], dar[1:-1], caudal])


def draw_pelvis(mu: np.ndarray, frame: Frame, hips, a: dict, gap: float) -> None:
    halves, holes = [], []
    for h in hips:
        side = _Side(h.sign, gap, a)
        halves.append(_hemipelvis(h, side, a))
        holes.append(side(ellipse_pts((1.6, 1.5), (0.8, 0.98), a["obturator_tilt"], 40)))
    dens = 0.9 * a["bone_density"]

    def density(fx, fy):
        body = 1.0 + 0.35 * np.exp(-((fy + 2.0) / 1.4) ** 2)  # the ilial body is seen end-on: thick
        wing = 1.0 - 0.3 / (1.0 + np.exp((fy + 4.6) / 0.6))  # the wing is a thin plate
        f = body * wing
        for h in hips:  # the acetabular fossa's medial wall is thin
            r = np.hypot(fx - h.acetabulum[0], fy - h.acetabulum[1])
            inside = np.clip((h.socket_r - r) / 0.05 + 0.5, 0.0, 1.0)
            f = f * (1.0 - (0.5 - 0.25 * h.severity) * inside)  # dysplastic cups fill in
        return f * dens

    add_shape(mu, frame, halves, holes=holes, w=0.45, c=0.1 * a["cortex"],
              rho_cortex=1.0, rho_marrow=0.32, scale=density)
    for h in hips:
        _cup_edges(mu, frame, h, a)


def _cup_edges(mu: np.ndarray, frame: Frame, h: HipSide, a: dict) -> None:
    """Sclerotic cranial cup edge (ends at the rim point) and a faint caudal one. The dorsal
    rim needs no line of its own: it is the hemipelvis outline's edge across the head."""
    ac, rad, s = h.acetabulum, h.socket_r, h.sign
    width = 0.07
    amp = 0.6 * a["bone_density"] * (1.0 - 0.3 * h.severity)
    arc_start, arc_end = h.rim_psi, h.rim_psi - a["cup_arc_deg"]
    cl_start, cl_end = h.caudal_psi, h.caudal_psi + 45.0

    def edges(fx, fy):
        dx, dy = fx - ac[0], fy - ac[1]
        r = np.hypot(dx, dy)
        psi = np.degrees(np.arctan2(s * dx, -dy))
        ring = np.exp(-((r - rad + 0.5 * width) / width) ** 2)
        cran = np.clip((arc_start - psi) / 6.0 + 0.5, 0, 1) * np.clip((psi - arc_end) / 40.0, 0, 1)
        caud = np.clip((psi - cl_start) / 15.0, 0, 1) * np.clip((cl_end - psi) / 20.0, 0, 1) * 0.5
        inside = (r < rad).astype(np.float32)
        return amp * ring * (cran + caud) * inside

    pts = np.asarray([ac]) + np.array([[-rad - 0.2, -rad - 0.2], [rad + 0.2, rad + 0.2]])
    add_field(mu, frame, pts, 0.0, edges)


def draw_femur(mu: np.ndarray, frame: Frame, h: HipSide, a: dict) -> None:
    s = h.sign
    hl, hy = s * h.head[0], h.head[1]
    div = math.tan(math.radians(a["femur_div_left" if s < 0 else "femur_div_right"]))
    length = a["femur_length"]
    lat = [(1.6 + div * (y - 2.2), y) for y in np.linspace(2.2, length - 1.5, 6)]
    sx = div * (length - 2.2)
    condyles = [(1.5 + sx + 0.2, length - 0.8), (1.5 + sx, length - 0.1), (1.2 + sx, length + 0.25),
                (0.85 + sx, length + 0.08), (0.5 + sx, length + 0.25), (0.15 + sx, length - 0.1),
                (0.2 + sx, length - 0.8)]
    med = [(0.45 + div * (y - 2.2), y) for y in np.linspace(length - 1.5, 3.5, 6)]
    outline = np.array(FEMUR_TOP + lat + condyles + med + FEMUR_MEDIAL, dtype=np.float64)
    frame_pts = np.stack([s * (hl + outline[:, 0]), hy + outline[:, 1]], axis=1)
    head_cut = ellipse_pts(h.head, (0.97 * h.head_r, 0.97 * h.head_r), 0.0, 48)
    # Denser shaft cortex than the trabecular proximal femur.
    dens = a["bone_density"]

    def density(fx, fy):
        return dens * (0.85 + 0.25 / (1.0 + np.exp(-(fy - hy - 2.5))))

    add_shape(mu, frame, [catmull_rom(frame_pts, 6)], holes=[head_cut], w=0.57, c=0.16 * a["cortex"],
              rho_cortex=0.95, rho_marrow=0.2, scale=density)
    if h.severity > 0.5:  # periarticular remodelling: a thickened, sclerotic caudal neck line
        a0 = np.array([s * (hl + 0.2), hy + 0.95])
        a1 = np.array([s * (hl + 0.6), hy + 1.45])
        add_field(mu, frame, [a0, a1], 0.3,
                  lambda fx, fy: 0.35 * dens * np.exp(-(np.maximum(segment_sdf(fx, fy, a0, a1, 0.0), 0) / 0.07) ** 2))


def draw_head(mu: np.ndarray, frame: Frame, h: HipSide, a: dict) -> None:
    cx, cy, r = h.head[0], h.head[1], h.head_r
    n = psi_dir(h.sign, 30.0)
    rho = a["head_density"] * a["bone_density"]

    def head(fx, fy):
        dx, dy = fx - cx, fy - cy
        along = dx * n[0] + dy * n[1]
        across = -dx * n[1] + dy * n[0]
        along = np.where(along > 0, along / h.flatten, along)  # remodelled: flattened craniolateral face
        q = np.hypot(along, across) / r
        sphere = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
        shell = np.exp(-((q - 0.97) / 0.03) ** 2) * (q < 1.0)
        return rho * (0.65 * sphere + 0.12 * shell)

    add_field(mu, frame, [h.head], 1.1 * r, head)


def spine_midline(a: dict):
    """Frame x of the spine's midline as a function of frame y (curving cranially of the sacrum)."""
    roll = a["roll"]

    def mid(y):
        return roll + a["spine_curve"] * ((-y - 6.7) / 10.0) ** 2 * (y < -6.7)

    return mid


def draw_spine(mu: np.ndarray, frame: Frame, a: dict, top_y: float, bottom_y: float, lumbar_count: int = 8) -> float:
    """Sacrum, lumbar and caudal vertebrae; returns the frame y of the lumbar spine's cranial end."""
    ky, roll = a["pelvis_length"], a["roll"]
    dens = 0.6 * a["bone_density"]
    mid = spine_midline(a)

    # Sacrum, with its median crest and two rows of foramina.
    half = np.array(SACRUM) * [1.0, ky]
    outline = np.concatenate([half, half[::-1] * [-1, 1]]) + [roll, 0.0]
    foramina = [(roll + sx * fl, fy * ky) for fl, fy in ((0.78, -5.9), (0.66, -4.95), (0.55, -4.05))
                for sx in (-1, 1)]

    def sacrum_density(fx, fy):
        spots = sum(np.exp(-(((fx - px) ** 2 + (fy - py) ** 2) / 0.03)) for px, py in foramina)
        return dens * (1.0 - 0.25 * spots)

    add_shape(mu, frame, [catmull_rom(outline, 8)], w=0.5, c=0.1, rho_cortex=0.8, rho_marrow=0.5,
              scale=sacrum_density)
    crest = (np.array([roll, -6.6 * ky]), np.array([roll, -3.1 * ky]))
    add_field(mu, frame, crest, 0.3,
              lambda fx, fy: dens * sdf_profile(segment_sdf(fx, fy, *crest, 0.1), 0.1, 0.04, 0.3, 0.2, frame.scale))

    y = -6.85 * ky
    length, width = a["lumbar_length"], a["vertebra_width"]
    for i in range(lumbar_count):  # L7 cranially until off the image
        if y < top_y - 1:
            break
        yc = y - length / 2
        cx = mid(yc)
        reach = width + (0.9 if i == 0 else 1.6)  # L7's transverse processes are the short ones
        box_pts = [(cx - reach - 0.3, yc - length / 2 - 0.3), (cx + reach + 0.3, yc + length / 2 + 0.3)]
        add_field(mu, frame, box_pts, 0.0,
                  lambda fx, fy, c=(cx, yc), r=reach: dens * _lumbar(fx, fy, c, length, width, r, frame.scale))
        y -= length + 0.3
    lumbar_end = y

    # Caudal vertebrae: long, narrowing, along a gently curving tail.
    y = -2.75 * ky
    for i in range(20):
        if y > bottom_y + 1:
            break
        length = min(1.15 + 0.12 * i, 1.6) * ky
        yc = y + length / 2
        cx = roll + a["tail_curve"] * max(yc + 2.75, 0) ** 2 / 100.0
        box_pts = [(cx - 1.2, yc - length / 2 - 0.2), (cx + 1.2, yc + length / 2 + 0.2)]
        add_field(mu, frame, box_pts, 0.0,
                  lambda fx, fy, c=(cx, yc), n=length, k=i: dens * _caudal(fx, fy, c, n, k, frame.scale))
        y += length + 0.13
    return lumbar_end


def _lumbar(fx, fy, centre, length: float, width: float, reach: float, scale: float):
    """One lumbar vertebra seen VD: body, a faint spinous teardrop, transverse and articular processes."""
    cx, yc = centre
    v = sdf_profile(rounded_box_sdf(fx, fy, centre, (width, length / 2 - 0.12), 0.25), 0.35, 0.09, 1.0, 0.45, scale)
    v += 0.25 * sdf_profile(segment_sdf(fx, fy, (cx, yc - 0.05 * length), (cx, yc + 0.3 * length), 0.2),
                            0.2, 0.06, 1.0, 0.5, scale)
    for sx in (-1, 1):
        base, tip = (cx + sx * (width + 0.1), yc + 0.1 * length), (cx + sx * reach, yc - 0.2 * length)
        midp = (0.5 * (base[0] + tip[0]), 0.5 * (base[1] + tip[1]))
        tapered = np.minimum(segment_sdf(fx, fy, base, midp, 0.28), segment_sdf(fx, fy, midp, tip, 0.16))
        v += 0.45 * sdf_profile(tapered, 0.2, 0.06, 1.0, 0.55, scale)
        for ey in (-0.5, 0.5):
            p = (cx + sx * 0.55 * width, yc + ey * length)
            v += 0.25 * sdf_profile(segment_sdf(fx, fy, p, p, 0.14), 0.14, 0.05, 1.0, 0.6, scale)
    return v


def _caudal(fx, fy, centre, length: float, index: int, scale: float):
    """One caudal (tail) vertebra; the first three carry small transverse processes."""
    cx, yc = centre
    half_w = max(0.5 - 0.05 * index, 0.26)
    v = sdf_profile(rounded_box_sdf(fx, fy, centre, (half_w, length / 2 - 0.1), 0.15), min(half_w, 0.3), 0.07,
                    1.0, 0.45, scale)
    if index < 3:
        for sx in (-1, 1):
            tip = (cx + sx * (1.0 - 0.2 * index), yc - 0.3 * length)
            v += 0.5 * sdf_profile(segment_sdf(fx, fy, (cx, yc - 0.15 * length), tip, 0.12), 0.12, 0.04, 1.0, 0.5,
                                   scale)
    return v


def soft_tissue(shape: tuple[int, int], frame: Frame, hips, a: dict, rng: np.random.Generator,
                extra=None) -> np.ndarray:
    """Body envelope: trunk, two thighs along the femora and the tail base, fat over muscle."""
    h, w = shape
    ds = 2 if max(h, w) >= 700 else 1  # the envelope is smooth: half resolution is plenty
    lh, lw = (h + ds - 1) // ds, (w + ds - 1) // ds
    low = Frame((frame.ox - (ds - 1) / 2) / ds, (frame.oy - (ds - 1) / 2) / ds, frame.scale / ds, frame.angle)
    fx, fy = low.grid((0, 0, lw, lh))
    thick = a["soft_thickness"]
    fat = a["fat"]

    def env(x, half):
        return np.sqrt(np.clip(1.0 - (x / half) ** 2, 0.0, 1.0))

    def layered(x, half):
        return 0.55 * env(x, half) + 0.45 * env(x, np.maximum(half - fat, 0.5))

    trunk_w = a["trunk_width"] * (1.0 + 0.03 * a["trunk_taper"] * np.clip(-fy - 2.0, 0.0, 12.0))
    trunk = layered(fx - a["roll"] * 0.5, trunk_w) / (1.0 + np.exp((fy - a["thigh_split"]) / 0.9))
    parts = [trunk]
    for hip in hips:
        div = math.tan(math.radians(a["femur_div_left" if hip.sign < 0 else "femur_div_right"]))
        xc = hip.head[0] + hip.sign * (0.5 + div * np.clip(fy - hip.head[1], 0.0, None))
        thigh = 0.95 * layered(fx - xc, a["thigh_width"]) / (1.0 + np.exp(-(fy + 1.0) / 0.8))
        parts.append(thigh)
    tail = 0.45 * env(fx - a["roll"], 1.1) / (1.0 + np.exp(-(fy - 3.5) / 0.5))
    parts.append(tail)
    soft = sum(p ** 3 for p in parts) ** (1.0 / 3.0)  # smooth union: creases where envelopes meet
    soft *= 1.0 + 0.04 * smooth_noise(rng, soft.shape, 3.0 * low.scale)
    # Bowel loops in the abdomen: ridges of a smooth noise field read as loop walls and contents.
    belly = 1.0 / (1.0 + np.exp((fy + 3.0) / 0.8)) * np.clip(1.0 - (fx / (0.8 * trunk_w)) ** 2, 0.0, 1.0)
    loops = smooth_noise(rng, soft.shape, 1.3 * low.scale)
    soft *= 1.0 + a["bowel"] * belly * (np.exp(-(loops / 0.7) ** 2) - 0.8 * np.clip(loops - 0.9, 0.0, 1.0))
    if a["gas"] > 0.5:  # bowel gas and faeces in the colon over the pelvic canal
        gas = np.zeros_like(soft)
        for _ in range(int(1 + 5 * a["gas"])):
            cx, cy = rng.uniform(-2.0, 2.0), rng.uniform(-8.0, 0.5)
            ax, ay = rng.uniform(0.3, 1.3), rng.uniform(0.3, 1.1)
            gas += np.exp(-(((fx - cx) / ax) ** 2 + ((fy - cy) / ay) ** 2) ** 2)
        mottle = smooth_noise(rng, soft.shape, 0.25 * low.scale)
        soft -= 0.12 * np.clip(gas, 0, 1) * (0.8 + 0.2 * mottle)
    soft = soft * thick
    if extra is not None:  # wide-field body: the lungs' air, computed on the same grid
        soft = soft + extra(fx, fy)
    soft = np.maximum(soft, 0.0)
    if ds > 1:
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return soft.astype(np.float32, copy=False)


def draw_anatomy(shape: tuple[int, int], frame: Frame, hips, a: dict, gap: float,
                 rng: np.random.Generator, body: dict | None = None,
                 body_rng: np.random.Generator | None = None) -> np.ndarray:
    """Total attenuation (float32, H x W): soft tissue plus textured bone.

    `body` (wide-field phantoms) adds the thorax, lungs, bowel contrast and lower limbs, drawn
    with `body_rng` so that the classic phantoms of a seed stay what they were."""
    from hipvision.phantom import body as whole

    h, w = shape
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    c, s = math.cos(frame.angle), math.sin(frame.angle)
    fy_corners = (-(corners[:, 0] - frame.ox) * s + (corners[:, 1] - frame.oy) * c) / frame.scale
    top_y = float(fy_corners.min())
    bone = np.zeros(shape, np.float32)
    lumbar_end = draw_spine(bone, frame, a, top_y, float(fy_corners.max()),
                            lumbar_count=whole.LUMBAR_COUNT if body is not None else 8)
    extra = None
    if body is not None:
        mid = spine_midline(a)
        cage_top = whole.draw_thorax(bone, frame, a, body, top_y, lumbar_end, mid)
        whole.draw_contrast(bone, frame, a, body, body_rng)

        def extra(fx, fy):
            return whole.lungs(fx, fy, a, body, cage_top, lumbar_end, mid)

    draw_pelvis(bone, frame, hips, a, gap)
    for hip in hips:
        draw_femur(bone, frame, hip, a)
        draw_head(bone, frame, hip, a)
        if body is not None:
            whole.draw_lower_limb(bone, frame, hip, a, body)
    texture = smooth_noise(rng, shape, max(0.12 * frame.scale, 1.0))
    texture += 0.5 * smooth_noise(rng, shape, max(0.05 * frame.scale, 1.0))
    mottle = smooth_noise(rng, shape, frame.scale)  # thicker and thinner bone over head-sized areas
    bone *= 1.0 + a["texture"] * texture + 0.08 * mottle
    if body is not None:
        a = {**a, "trunk_width": body["trunk_half_width"]}
    with np.errstate(over="ignore"):  # sigmoids far from the pelvis saturate: exp overflows to inf, harmlessly
        return soft_tissue(shape, frame, hips, a, rng, extra) + bone
