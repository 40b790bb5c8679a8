"""Pixels in and out of the diffusion models, and the geometry of the images they see.

The geometry is the keypoint model's own (hipvision.ml.transforms: pixel centres at integer
coordinates, `Affine` maps, anti-aliased `warp`, robust `normalise`), so a generated crop is
framed exactly like the crops the refinement stage trains on. Two framings:
- whole: the radiograph letterboxed to a square;
- crop: one hip centred on its femoral head, `crop_radii` head radii wide, image-left hips
  mirrored (as transforms.crop_affine does) so the crop hip is always on the image's right
  with the other hip off to the left. A mirrored hip looks like, and is labelled as, an
  image-right hip: under the default VD mapping that is the patient's left (CROP_SIDE).
Generators see intensities normalised to [0, 1] and scaled to [-1, 1]; they write 8-bit PNGs.
Landmarks follow the pixels through the same affine map, so labels stay exact.
"""

from __future__ import annotations

import numpy as np

from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks, SideMapping
from hipvision.ml.transforms import Affine, Letterbox, crop_affine, normalise, warp

CROP_MAPPING = SideMapping(right_on_image_left=True)
CROP_SIDE = Side.LEFT  # the crop hip: on the crop's image right under CROP_MAPPING


def map_side(t: Affine, s: SideLandmarks) -> SideLandmarks:
    (hx, hy), (rx, ry) = t.apply([[s.head_x, s.head_y], [s.rim_x, s.rim_y]])
    return SideLandmarks(float(hx), float(hy), s.head_r * t.scale, float(rx), float(ry))


def map_landmarks(t: Affine, lm: HipLandmarks) -> HipLandmarks:
    """Landmarks through a map that keeps the image's sides (letterbox, resize)."""
    return HipLandmarks(left=map_side(t, lm.left), right=map_side(t, lm.right))


def visible_side(mapping: SideMapping, image_side: str) -> Side:
    """Patient side of the hip on `image_side` ('image_left' / 'image_right')."""
    if image_side not in ("image_left", "image_right"):
        raise ValueError(f"image_side: must be 'image_left' or 'image_right', got {image_side!r}")
    s = mapping.patient_side_of_image_left()
    return s if image_side == "image_left" else s.other


def hip_crop_affine(lm: HipLandmarks, mapping: SideMapping, image_side: str, *, crop_radii: float, out_px: int,
                    shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, angle_deg: float = 0.0) -> Affine:
    """Source pixels -> canonical crop of the hip on `image_side`. `shift` is in head radii,
    `scale` multiplies the crop width, `angle_deg` turns the content (training jitter)."""
    hip = lm.side(visible_side(mapping, image_side))
    return crop_affine(hip.head_x + shift[0] * hip.head_r, hip.head_y + shift[1] * hip.head_r,
                       crop_radii * hip.head_r * scale, out_px, mirror=image_side == "image_left",
                       angle_deg=angle_deg)


def crop_landmarks(t: Affine, lm: HipLandmarks, mapping: SideMapping, image_side: str) -> HipLandmarks:
    """Landmarks in canonical crop pixels under CROP_MAPPING: the crop hip is CROP_SIDE, the
    other hip (usually outside the crop) the other side, so its NA stays computable."""
    vis = visible_side(mapping, image_side)
    crop_hip, other = map_side(t, lm.side(vis)), map_side(t, lm.side(vis.other))
    if CROP_SIDE is Side.LEFT:
        return HipLandmarks(left=crop_hip, right=other)
    return HipLandmarks(left=other, right=crop_hip)


def crop_unit(pixels: np.ndarray, t: Affine, out_px: int) -> np.ndarray:
    """The crop's pixels normalised to [0, 1] (the keypoint model's normalisation)."""
    return normalise(warp(np.asarray(pixels, dtype=np.float32), t, out_px))


def letterbox_unit(pixels: np.ndarray, size: int) -> tuple[np.ndarray, Affine]:
    """The whole radiograph in [0, 1], letterboxed (padding 0), and its map."""
    lb = Letterbox(int(pixels.shape[0]), int(pixels.shape[1]), int(size))
    nh, nw = lb.resized
    oy, ox = lb.offset
    boxed = lb.apply(np.asarray(pixels, dtype=np.float32))
    mask = np.zeros(boxed.shape, bool)
    mask[oy:oy + nh, ox:ox + nw] = True
    out = normalise(boxed, mask=mask)
    out[~mask] = 0.0
    return out, lb.affine


def to_signed(unit: np.ndarray) -> np.ndarray:
    """[0, 1] (N, H, W) or (H, W) -> float32 (N, 1, H, W) in [-1, 1]."""
    a = np.asarray(unit, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    return (a * 2.0 - 1.0)[:, None]


def from_signed(x) -> np.ndarray:
    """Tensor/array (N, 1, H, W) in [-1, 1] -> uint8 (N, H, W)."""
    a = x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float32)
    a = a[:, 0] if a.ndim == 4 else a
    return np.clip((a + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
