"""Exact image<->model-input geometry: affine maps, letterbox, hip crops, intensity normalisation.

Convention: pixel centres sit at integer coordinates (pixel (i, j) covers x in [j-0.5, j+0.5]),
as in numpy indexing, cv2.warpAffine and the landmark store. cv2.resize (INTER_AREA and
INTER_LINEAR) maps x_dst = (x_src + 0.5) * s - 0.5 in this convention, which is what makes the
letterbox exactly invertible. Every input the model sees carries the `Affine` from full-image
pixels to its own pixels, so predictions map back with one matrix inverse — no hand-written
scale/offset arithmetic anywhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Affine:
    """x' = a*x + b*y + c ; y' = d*x + e*y + f."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0
    e: float = 1.0
    f: float = 0.0

    @classmethod
    def from_matrix(cls, m) -> Affine:
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        return cls(*(float(v) for v in m[:6]))

    @classmethod
    def scale_about_pixels(cls, sx: float, sy: float | None = None) -> Affine:
        """The map of a resize by (sx, sy) in the pixel-centre convention."""
        sy = sx if sy is None else sy
        return cls(sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5)

    @classmethod
    def translation(cls, tx: float, ty: float) -> Affine:
        return cls(1.0, 0.0, tx, 0.0, 1.0, ty)

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.a, self.b, self.c], [self.d, self.e, self.f]], dtype=np.float64)

    @property
    def scale(self) -> float:
        """Geometric-mean scale factor (output pixels per input pixel)."""
        return math.sqrt(abs(self.a * self.e - self.b * self.d))

    @property
    def mirrors(self) -> bool:
        return self.a * self.e - self.b * self.d < 0

    def apply(self, pts) -> np.ndarray:
        p = np.asarray(pts, dtype=np.float64)
        x, y = p[..., 0], p[..., 1]
        return np.stack([self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f], axis=-1)

    def inverse(self) -> Affine:
        det = self.a * self.e - self.b * self.d
        if abs(det) < 1e-15:
            raise ValueError("singular affine map has no inverse")
        ia, ib, id_, ie = self.e / det, -self.b / det, -self.d / det, self.a / det
        return Affine(ia, ib, -(ia * self.c + ib * self.f), id_, ie, -(id_ * self.c + ie * self.f))

    def then(self, other: Affine) -> Affine:
        """The map `other(self(x))`."""
        m = np.vstack([other.matrix, [0, 0, 1]]) @ np.vstack([self.matrix, [0, 0, 1]])
        return Affine.from_matrix(m[:2])


def hflip(width: int) -> Affine:
    """Horizontal mirror of an image `width` pixels wide (pixel j <-> width-1-j)."""
    return Affine(-1.0, 0.0, width - 1.0, 0.0, 1.0, 0.0)


# ---------------------------------------------------------------------------- letterbox

@dataclass(frozen=True)
class Letterbox:
    """Fit an (h, w) image into a size x size square: resize keeping the aspect, pad centred."""

    src_h: int
    src_w: int
    size: int

    def __post_init__(self) -> None:
        for name in ("src_h", "src_w", "size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Letterbox.{name} must be a positive int, got {v!r}")

    @property
    def resized(self) -> tuple[int, int]:
        """(h, w) of the image content inside the square."""
        s = self.size / max(self.src_h, self.src_w)
        return max(1, min(self.size, round(self.src_h * s))), max(1, min(self.size, round(self.src_w * s)))

    @property
    def offset(self) -> tuple[int, int]:
        nh, nw = self.resized
        return (self.size - nh) // 2, (self.size - nw) // 2

    @property
    def affine(self) -> Affine:
        """Source pixels -> letterboxed pixels."""
        nh, nw = self.resized
        oy, ox = self.offset
        return Affine.scale_about_pixels(nw / self.src_w, nh / self.src_h).then(Affine.translation(ox, oy))

    def apply(self, img: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if img.shape[:2] != (self.src_h, self.src_w):
            raise ValueError(f"image is {img.shape[:2]}, letterbox expects {(self.src_h, self.src_w)}")
        nh, nw = self.resized
        interp = cv2.INTER_AREA if nw < self.src_w else cv2.INTER_LINEAR
        small = cv2.resize(img, (nw, nh), interpolation=interp)
        out = np.full((self.size, self.size), fill, dtype=small.dtype)
        oy, ox = self.offset
        out[oy:oy + nh, ox:ox + nw] = small
        return out


# ---------------------------------------------------------------------------- crops

def crop_affine(cx: float, cy: float, side: float, size: int, *, mirror: bool = False,
                angle_deg: float = 0.0) -> Affine:
    """Full-image pixels -> a size x size crop of a `side`-pixel square centred on (cx, cy).

    The centre lands on the crop's centre ((size-1)/2); `mirror` flips the crop horizontally
    (image-left hips are mirrored so one model serves both sides); `angle_deg` rotates the
    content (augmentation), counter-clockwise on screen.
    """
    if not (side > 0 and math.isfinite(side)):
        raise ValueError(f"crop side must be a positive number, got {side!r}")
    k = size / side
    t = math.radians(angle_deg)
    cos, sin = math.cos(t) * k, math.sin(t) * k
    sx = -1.0 if mirror else 1.0
    # y is down, so a counter-clockwise on-screen rotation is [[cos, sin], [-sin, cos]].
    a, b = sx * cos, sx * sin
    d, e = -sin, cos
    h = size / 2 - 0.5
    return Affine(a, b, h - a * cx - b * cy, d, e, h - d * cx - e * cy)


def warp(src: np.ndarray, m: Affine, size: int, *, border: str = "reflect") -> np.ndarray:
    """Resample `src` through `m` (src pixels -> output pixels) into size x size, anti-aliased.

    Bilinear warping alone aliases when it shrinks by more than ~1.5x (a 4,000-px radiograph
    cropped to 160 px shrinks 5x), so the part of `src` that the output covers is low-passed
    first with a Gaussian matched to the shrink factor. Only that region is touched, so the
    cost does not grow with the radiograph.
    """
    inv = m.inverse()
    corners = inv.apply([[-1, -1], [size, -1], [-1, size], [size, size]])
    shrink = 1.0 / max(m.scale, 1e-12)
    pad = int(math.ceil(2 + 2 * shrink))
    h, w = src.shape[:2]
    x0 = max(0, int(math.floor(corners[:, 0].min())) - pad)
    y0 = max(0, int(math.floor(corners[:, 1].min())) - pad)
    x1 = min(w, int(math.ceil(corners[:, 0].max())) + pad + 1)
    y1 = min(h, int(math.ceil(corners[:, 1].max())) + pad + 1)
    mode = cv2.BORDER_REFLECT_101 if border == "reflect" else cv2.BORDER_CONSTANT
    fill = float("nan") if border == "nan" else 0.0
    if x1 <= x0 or y1 <= y0:  # entirely outside the image
        return np.full((size, size), fill, dtype=np.float32)
    roi = np.ascontiguousarray(src[y0:y1, x0:x1], dtype=np.float32)
    if shrink > 1.5:
        sigma = 0.45 * math.sqrt(shrink * shrink - 1.0)
        roi = cv2.GaussianBlur(roi, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    mm = Affine.translation(x0, y0).then(m)  # roi pixels -> output pixels
    if roi.shape[0] < 2 or roi.shape[1] < 2:
        mode = cv2.BORDER_REPLICATE
    return cv2.warpAffine(roi, mm.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=mode, borderValue=fill)


# ---------------------------------------------------------------------------- intensity

def normalise(img: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5, mask: np.ndarray | None = None) -> np.ndarray:
    """Robust window to 0..1 (bit depths and exposures differ between radiographs)."""
    vals = img[mask] if mask is not None else img
    if vals.size == 0:
        return np.zeros_like(img, dtype=np.float32)
    # A strided subsample keeps this cheap on large inputs; percentiles barely move.
    flat = vals.reshape(-1)
    if flat.size > 65536:
        flat = flat[:: flat.size // 65536]
    lo, hi = np.percentile(flat, [lo_pct, hi_pct])
    if not hi > lo:
        hi = lo + 1.0
    out = (img.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo)
    return np.clip(out, 0.0, 1.0, out=out)


def letterbox_input(pixels: np.ndarray, to_pixels: Affine, size: int) -> tuple[np.ndarray, Affine]:
    """Whole radiograph -> normalised size x size input and the map full-image -> input.

    `to_pixels` maps full-resolution coordinates to `pixels` (identity unless decoded reduced).
    """
    lb = Letterbox(int(pixels.shape[0]), int(pixels.shape[1]), int(size))
    boxed = lb.apply(np.asarray(pixels, dtype=np.float32))
    nh, nw = lb.resized
    oy, ox = lb.offset
    mask = np.zeros(boxed.shape, dtype=bool)
    mask[oy:oy + nh, ox:ox + nw] = True
    out = normalise(boxed, mask=mask)
    out[~mask] = 0.0
    return out, to_pixels.then(lb.affine)


def masked_input(src: np.ndarray, m: Affine, size: int) -> np.ndarray:
    """`src` through `m` into a normalised size x size input; what lies outside the image is 0
    and does not count in the normalisation (as the letterbox's bars)."""
    out = warp(src, m, size, border="nan")
    valid = np.isfinite(out)
    res = normalise(np.where(valid, out, 0), mask=valid)
    res[~valid] = 0.0
    return res


def crop_input(pixels: np.ndarray, to_pixels: Affine, full_to_crop: Affine, size: int) -> np.ndarray:
    """A normalised hip crop: `full_to_crop` is from crop_affine (full-image coordinates)."""
    m = to_pixels.inverse().then(full_to_crop)
    return normalise(warp(pixels, m, size))
