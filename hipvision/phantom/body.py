"""The rest of the dog for wide-field phantoms: thorax (thoracic spine, ribs, lungs), contrast
in the bowel, and the hind limbs from the stifles to the paws.

Real VD radiographs are often taken as abdomen-plus-pelvis or whole-body views; a model that
only ever saw a pelvis-framed phantom takes ribs for ilia and vertebrae for femoral heads. These
structures are drawn in the same frame units (one unit = the femoral-head radius) as the pelvis,
with the same tube profiles, so their scale and brightness match the hips'. Nothing here moves a
landmark: the hips come from `geometry`, unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from hipvision.phantom.draw import add_field, catmull_rom, rounded_box_sdf, sdf_profile, segment_sdf
from hipvision.phantom.geometry import Frame, HipSide

# (low, high) of each draw of the wide-field body; frame units unless named otherwise.
RANGES = {
    "thoracic_length": (1.55, 1.95),  # one thoracic vertebra plus its disc
    "ribcage_half_width": (9.0, 14.0),
    "trunk_half_width": (9.5, 15.0),  # abdomen, wider than a pelvis-framed view shows
    "rib_sweep": (1.5, 4.0),  # how far caudally a rib runs from its vertebra to its lateral bend
    "rib_density": (0.6, 1.1),
    "lung_air": (0.05, 0.3),  # attenuation removed by air in the lungs (soft tissue ~0.5)
    "tibia_div_deg": (-6.0, 6.0),
    "paw_flex_deg": (-25.0, 25.0),
    "contrast": (0.0, 1.0),  # above 0.75: barium in the bowel
}
LUMBAR_COUNT = 7
THORACIC_COUNT = 13


def sample_body(rng: np.random.Generator) -> dict:
    return {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in RANGES.items()}


def polyline_sdf(fx, fy, pts, radius: float):
    """Signed distance to a thick polyline (min over its capsules)."""
    d = segment_sdf(fx, fy, pts[0], pts[1], radius)
    for a, b in zip(pts[1:-1], pts[2:]):
        d = np.minimum(d, segment_sdf(fx, fy, a, b, radius))
    return d


def _bone_tube(mu, frame: Frame, pts, radius: float, density: float, cortex: float = 0.3) -> None:
    """A long bone or rib: a thick polyline with a bright cortex."""
    pts = np.asarray(pts, dtype=np.float64)
    add_field(mu, frame, pts, radius + 0.3,
              lambda fx, fy: density * sdf_profile(polyline_sdf(fx, fy, pts, radius), radius,
                                                  cortex * radius, 1.0, 0.45, frame.scale))


def draw_thorax(mu: np.ndarray, frame: Frame, a: dict, b: dict, top_y: float, start_y: float, midline) -> float:
    """Thoracic vertebrae and ribs cranial of `start_y` (the top of L1) until off the image.

    Returns the cranial end of the rib cage (frame y), for the lungs."""
    dens = 0.6 * a["bone_density"]
    y = start_y
    length = b["thoracic_length"]
    half = b["ribcage_half_width"]
    end = start_y
    for i in range(THORACIC_COUNT):  # T13 first, going cranially
        if y < top_y - 3:
            break
        yc = y - length / 2
        cx = midline(yc)
        width = 0.7 * a["vertebra_width"]
        add_field(mu, frame, [(cx - width - 0.3, yc - length / 2), (cx + width + 0.3, yc + length / 2)], 0.1,
                  lambda fx, fy, c=(cx, yc), wd=width: dens * sdf_profile(
                      rounded_box_sdf(fx, fy, c, (wd, length / 2 - 0.1), 0.2), 0.3, 0.08, 1.0, 0.45, frame.scale))
        # Caudal ribs are short and float; the cage is widest around T9-T10.
        reach = half * (0.55 + 0.45 * math.sin(math.pi * min((i + 2) / (THORACIC_COUNT + 1), 1.0)))
        sweep = b["rib_sweep"] * (1.0 + 0.5 * (i < 3))
        for s in (-1, 1):
            p0 = (cx + s * (width + 0.15), yc)
            ctrl = [p0, (cx + s * 0.45 * reach, yc - 0.3), (cx + s * 0.85 * reach, yc + 0.35 * sweep),
                    (cx + s * reach, yc + sweep), (cx + s * 0.93 * reach, yc + 1.8 * sweep)]
            _bone_tube(mu, frame, catmull_rom(ctrl, 5, closed=False), 0.17, dens * b["rib_density"])
        end = yc - length / 2
        y -= length
    return end


def lungs(fx, fy, a: dict, b: dict, cage_top: float, cage_bottom: float, midline) -> np.ndarray:
    """Air in the lungs: a negative attenuation inside the rib cage's cranial two thirds."""
    half = b["ribcage_half_width"] * 0.85
    span = max(cage_bottom - cage_top, 1.0)
    t = (fy - cage_top) / span  # 0 cranial .. 1 at the last rib
    across = (fx - midline(fy)) / half
    inside = np.clip(1.0 - across ** 2, 0.0, 1.0) * np.clip(t * 4.0, 0.0, 1.0) * np.clip((0.75 - t) * 5.0, 0.0, 1.0)
    heart = np.exp(-((fx - midline(fy) + 0.8) ** 2 / (0.22 * half) ** 2 + (t - 0.35) ** 2 / 0.04))
    return -b["lung_air"] * np.sqrt(inside) * (1.0 - 0.8 * heart)


def draw_contrast(mu: np.ndarray, frame: Frame, a: dict, b: dict, rng: np.random.Generator) -> None:
    """Barium in the small bowel: bright winding tubes over the abdomen (some studies have it)."""
    if b["contrast"] < 0.75:
        return
    for _ in range(int(rng.integers(2, 6))):
        p = np.array([rng.uniform(-5.0, 5.0), rng.uniform(-22.0, -6.0)])
        pts = [p.copy()]
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(4, 9))):
            heading += rng.normal(0.0, 0.9)
            p = p + 1.6 * np.array([math.cos(heading), math.sin(heading)])
            pts.append(p.copy())
        width = rng.uniform(0.3, 0.7)
        _bone_tube(mu, frame, catmull_rom(np.array(pts), 4, closed=False), width, rng.uniform(0.25, 0.6), 0.5)


def draw_lower_limb(mu: np.ndarray, frame: Frame, h: HipSide, a: dict, b: dict) -> None:
    """Tibia, hock and paw below the femur drawn by `anatomy.draw_femur` (same lateral offsets)."""
    s = h.sign
    hl, hy = s * h.head[0], h.head[1]
    div = math.tan(math.radians(a["femur_div_left" if s < 0 else "femur_div_right"]))
    length = a["femur_length"]
    knee = np.array([s * (hl + 0.85 + div * (length - 2.2)), hy + length + 0.3])
    dens = a["bone_density"]
    # Patella over the stifle: a small dense oval.
    add_field(mu, frame, [knee + (0, -0.6)], 0.8, lambda fx, fy: 0.5 * dens * sdf_profile(
        segment_sdf(fx, fy, knee + (0, -0.9), knee + (0, -0.4), 0.4), 0.4, 0.1, 1.0, 0.6, frame.scale))
    t = math.radians(b["tibia_div_deg"] * s)
    tib_len = 0.95 * length
    ankle = knee + tib_len * np.array([math.sin(t), math.cos(t)])
    _bone_tube(mu, frame, [knee + (0, 0.5), 0.5 * (knee + ankle) + (s * 0.1, 0), ankle], 0.62, dens)
    _bone_tube(mu, frame, [knee + (s * 0.9, 0.9), ankle + (s * 0.5, -2.0)], 0.22, 0.7 * dens)  # fibula
    hock = ankle + np.array([0.0, 1.6])
    _bone_tube(mu, frame, [ankle, hock], 0.7, 0.9 * dens)  # tarsus
    f = math.radians(b["paw_flex_deg"])
    for k in (-1.5, -0.5, 0.5, 1.5):  # four metatarsals and their toes
        base = hock + np.array([0.32 * k, 0.3])
        tip = base + 5.5 * np.array([0.04 * k + math.sin(f), math.cos(f)])
        toe = tip + 2.0 * np.array([0.08 * k + math.sin(f), math.cos(f)])
        _bone_tube(mu, frame, [base, tip], 0.2, 0.8 * dens)
        _bone_tube(mu, frame, [tip + 0.15 * (toe - tip), toe], 0.17, 0.7 * dens)
