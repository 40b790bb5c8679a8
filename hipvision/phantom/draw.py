"""Drawing primitives for the phantom: smooth outlines, masks, distance profiles, noise fields.

Bones are drawn as projected thickness: a shape's mask, its distance to the edge, and a
tube profile (cortex path + marrow path through a cylinder), which gives the bright cortical
edges and the darker medulla of real radiographs without any per-bone special casing.
Work is done in the shape's bounding box only, so cost scales with the bone, not the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hipvision.phantom.geometry import Frame

_SHIFT = 4  # cv2 sub-pixel bits: outlines are placed to 1/16 px


def catmull_rom(points, samples: int = 10, closed: bool = True) -> np.ndarray:
    """A smooth curve through `points` (N, 2); closed curves wrap around."""
    p = np.asarray(points, dtype=np.float64)
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
        n_seg = len(p)
    else:
        ext = np.concatenate([p[:1], p, p[-1:]])
        n_seg = len(p) - 1
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(n_seg):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    if not closed:
        out.append(p[-1:])
    return np.concatenate(out)


def ellipse_pts(centre, axes, angle_deg: float = 0.0, n: int = 48) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    a = math.radians(angle_deg)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack([centre[0] + x * math.cos(a) - y * math.sin(a),
                     centre[1] + x * math.sin(a) + y * math.cos(a)], axis=1)


def fill_mask(frame: Frame, box, add=(), cut=()) -> np.ndarray:
    """uint8 mask over box: union of the `add` polygons (frame units) minus the `cut` ones."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for polys, value in ((add, 1), (cut, 0)):
        if len(polys):
            pts = [np.round((frame.to_px(p) - (x0, y0)) * (1 << _SHIFT)).astype(np.int32) for p in polys]
            cv2.fillPoly(mask, pts, value, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask


def inner_distance(mask: np.ndarray) -> np.ndarray:
    """Distance (px) from each inside pixel to the shape's edge; 0 outside."""
    d = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.maximum(d - 0.5, 0.0, out=d)


def tube_profile(d: np.ndarray, w: float, c: float, rho_cortex: float, rho_marrow: float) -> np.ndarray:
    """Projected attenuation through a cylinder of radius w with a cortex c thick, at depth d
    from its edge (both px); the plateau beyond d = w stands for flat, thick bone."""
    x = np.clip(w - d, 0.0, w)
    x2 = x * x
    outer = np.sqrt(np.maximum(w * w - x2, 0.0))
    inner = np.sqrt(np.maximum((w - c) ** 2 - x2, 0.0))
    out = (rho_cortex * (outer - inner) + rho_marrow * inner) / w
    out[d <= 0] = 0.0
    return out.astype(np.float32, copy=False)


def add_shape(target: np.ndarray, frame: Frame, polys, *, holes=(), w: float, c: float,
              rho_cortex: float, rho_marrow: float, pad: float = 0.5, scale=None) -> None:
    """Add a bone shape (polygons in frame units) with a tube profile; w, c in frame units.

    `scale(fx, fy)`, if given, modulates density over the shape (frame coordinates)."""
    allpts = np.concatenate([np.asarray(p) for p in polys])
    box = frame.box(allpts, pad, target.shape)
    if box is None:
        return
    mask = fill_mask(frame, box, polys, holes)
    if not mask.any():
        return
    val = tube_profile(inner_distance(mask), w * frame.scale, c * frame.scale, rho_cortex, rho_marrow)
    if scale is not None:
        val *= scale(*frame.grid(box))
    x0, y0, x1, y1 = box
    target[y0:y1, x0:x1] += val


def add_field(target: np.ndarray, frame: Frame, pts, pad: float, fn) -> None:
    """target[box] += fn(fx, fy) over the box around frame points `pts` (analytic shapes)."""
    box = frame.box(pts, pad, target.shape)
    if box is None:
        return
    x0, y0, x1, y1 = box
    target[y0:y1, x0:x1] += fn(*frame.grid(box)).astype(np.float32, copy=False)


def rounded_box_sdf(fx, fy, centre, half, radius):
    """Signed distance (frame units, negative inside) to an axis-aligned rounded rectangle."""
    qx = np.abs(fx - centre[0]) - (half[0] - radius)
    qy = np.abs(fy - centre[1]) - (half[1] - radius)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - radius


def segment_sdf(fx, fy, a, b, radius):
    """Signed distance to a capsule (segment a-b thickened by radius)."""
    ax, ay = a
    bx, by = b
    vx, vy = bx - ax, by - ay
    t = np.clip(((fx - ax) * vx + (fy - ay) * vy) / max(vx * vx + vy * vy, 1e-12), 0.0, 1.0)
    return np.hypot(fx - ax - t * vx, fy - ay - t * vy) - radius


def sdf_profile(sdf, w: float, c: float, rho_cortex: float, rho_marrow: float, scale: float):
    """tube_profile for an analytic signed distance (frame units -> px depth)."""
    d = np.maximum(-sdf, 0) * scale
    return tube_profile(d.astype(np.float32), w * scale, c * scale, rho_cortex, rho_marrow)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-ish Gaussian noise with features about `cell` px wide (float32)."""
    h, w = shape
    gh, gw = max(int(h / cell) + 3, 3), max(int(w / cell) + 3, 3)
    g = rng.standard_normal((gh, gw), dtype=np.float32)
    out = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return out
