"""Training data: labelled samples, an in-memory cache, and the augmented two-stage Dataset.

A `Sample` is one labelled radiograph (a file or an array, patient-side landmarks, its side
mapping). Decoding a 4,000-px radiograph every epoch would dominate CPU training, so each
sample is decoded once into a small `CachedImage`: an overview a little larger than the
stage-1 input, and one patch per hip at a little more than the stage-2 crop resolution.
Every training input is then one warpAffine from the cache.

Augmentations: rotation, scale, shift, horizontal flip (stage 1; it swaps the image-left and
image-right labels), crop jitter that imitates stage 1's error (stage 2), brightness,
contrast, gamma, blur and noise. Randomness comes from (seed, epoch, index) alone, so a run
is reproducible whatever the worker count.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hipvision.core.jobs import check_cancel
from hipvision.core.landmarks import HipLandmarks, SideMapping
from hipvision.ml.pipeline import PatchSource
from hipvision.ml.transforms import Affine, Letterbox, crop_affine, hflip, normalise, warp

# "all": a labelled folder evaluated as a whole (no splits). The project store has the same rule
# for its images (core.records.SOURCES); phantoms are mixed in by the few-shot retrain only.
SAMPLE_SPLITS = ("train", "val", "test", "all")
SAMPLE_SOURCES = ("real", "synthetic", "phantom")


@dataclass(frozen=True)
class Sample:
    """One labelled radiograph. `image` is a path or a full-resolution 2-D array."""

    image: str | Path | np.ndarray
    landmarks: HipLandmarks
    mapping: SideMapping = field(default_factory=SideMapping)
    spacing: tuple[float, float] | None = None
    name: str = ""
    split: str = "train"
    source: str = "real"

    def __post_init__(self) -> None:
        if self.split not in SAMPLE_SPLITS:
            raise ValueError(f"sample {self.label}: split must be one of {SAMPLE_SPLITS}, got {self.split!r}")
        if self.source not in SAMPLE_SOURCES:
            raise ValueError(f"sample {self.label}: source must be one of {SAMPLE_SOURCES}, got {self.source!r}")
        # Validation picks the kept epoch and test gives every reported number: a generated image
        # or a phantom there would measure the model on its own training distribution.
        if self.source != "real" and self.split != "train":
            raise ValueError(f"sample {self.label}: a {self.source} image can only be in the train split, "
                             f"not {self.split!r}")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return str(self.image) if not isinstance(self.image, np.ndarray) else "<array>"

    def image_order(self) -> np.ndarray:
        """(2, 5) rows [head_x, head_y, head_r, rim_x, rim_y] for the image-left, image-right hip."""
        left, right = self.mapping.to_image_order(self.landmarks)
        return np.array([[s.head_x, s.head_y, s.head_r, s.rim_x, s.rim_y] for s in (left, right)], dtype=np.float64)


def load_pixels(image, max_side: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """(pixels float32, full (H, W)) of a path or an array."""
    if isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise ValueError(f"image array must be 2-D grayscale, got shape {image.shape}")
        return np.asarray(image, dtype=np.float32), (int(image.shape[0]), int(image.shape[1]))
    from hipvision.core.radiograph import load_radiograph

    rg = load_radiograph(image, max_side=max_side)
    return rg.pixels, tuple(int(v) for v in rg.full_size)


@dataclass
class CachedImage:
    full_size: tuple[int, int]
    overview: np.ndarray  # float16, max side ~1.25x the stage-1 input
    overview_affine: Affine  # full -> overview
    patches: list  # [(float16 pixels, Affine full->patch)] image-left, image-right
    hips: np.ndarray  # (2, 5) image order, full pixels
    pelvis: tuple | None = None  # (float16 pixels, Affine full->patch) around both hips: zoomed stage 1

    def source(self) -> PatchSource:
        return PatchSource(self.full_size, self.overview, self.overview_affine, self.patches, self.pelvis)


@dataclass(frozen=True)
class CacheSpec:
    stage1_size: int
    crop_size: int
    crop_factor: float
    zoom_side: float = 2.8

    @property
    def overview_side(self) -> int:
        return int(math.ceil(1.25 * self.stage1_size))


# Patches cover this many crop sides: enough for the crop jitter below, scaled and rotated.
PATCH_EXTENT = 1.7
PATCH_OVERSAMPLE = 1.15  # patch pixels per crop pixel, so a 0.87x zoom-in does not upsample
# The pelvis patch spans this many of the widest zoomed view (jittered and rotated) across.
PELVIS_EXTENT = 1.3


def _pelvis_patch(pixels: np.ndarray, hips: np.ndarray, spec: CacheSpec, top: float):
    heads = hips[:, :2]
    mid = heads.mean(axis=0)
    d = max(float(np.hypot(*(heads[1] - heads[0]))), 1.0)
    lo, hi = zoom_side_range(spec.zoom_side)
    side = PELVIS_EXTENT * hi * d
    # resolution for the tightest view: stage-1 input pixels across `lo` inter-head distances
    px = int(math.ceil(spec.stage1_size * PELVIS_EXTENT * hi / lo))
    if px > side:  # never store more pixels than the radiograph has
        px = max(8, int(math.ceil(side)))
    m = crop_affine(float(mid[0]), float(mid[1]), side, px)
    return (warp(pixels, m, px, border="nan") / top).astype(np.float16), m


def cache_image(sample: Sample, spec: CacheSpec) -> CachedImage:
    pixels, full = load_pixels(sample.image)
    if pixels.shape != tuple(full):  # arrays only come at full size; files are decoded at full size
        raise ValueError(f"{sample.label}: expected full-resolution pixels")
    hips = sample.image_order()
    scale = min(1.0, spec.overview_side / max(full))
    lb = Letterbox(full[0], full[1], spec.overview_side)
    nh, nw = lb.resized
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    overview = cv2.resize(pixels, (nw, nh), interpolation=interp)
    ov_aff = Affine.scale_about_pixels(nw / full[1], nh / full[0])
    # Rescale so float16 keeps precision whatever the bit depth (normalise() is scale-free).
    top = float(np.percentile(overview, 99.9)) or 1.0
    overview = (overview / top).astype(np.float16)
    patches = []
    for h in range(2):
        hx, hy, r = hips[h, :3]
        crop_side = spec.crop_factor * r
        side = PATCH_EXTENT * crop_side
        px = int(math.ceil(PATCH_EXTENT * spec.crop_size * PATCH_OVERSAMPLE))
        m = crop_affine(hx, hy, side, px)
        if m.scale > 1:  # never store more pixels than the radiograph has
            px = max(8, int(math.ceil(side)))
            m = crop_affine(hx, hy, side, px)
        patches.append(((warp(pixels, m, px) / top).astype(np.float16), m))
    return CachedImage(full_size=full, overview=overview, overview_affine=ov_aff, patches=patches, hips=hips,
                       pelvis=_pelvis_patch(pixels, hips, spec, top))


def build_cache(samples: Sequence[Sample], spec: CacheSpec, *, progress=None, cancel=None,
                message: str = "reading images") -> list[CachedImage]:
    out = []
    for i, s in enumerate(samples):
        check_cancel(cancel)
        out.append(cache_image(s, spec))
        if progress is not None:
            progress(i + 1, len(samples), f"{message} {i + 1}/{len(samples)}")
    return out


# ---------------------------------------------------------------------------- augmentation

@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 8.0
    scale: float = 0.10  # +- relative
    shift: float = 0.05  # +- fraction of the input
    flip: float = 0.5  # probability of a horizontal flip (stage 1)
    crop_jitter: float = 0.25  # stage-2 crop centre offset, std in head radii (imitates stage 1's error)
    crop_scale: float = 0.12  # stage-2 crop side, std of the log
    crop_rotate_deg: float = 10.0
    gamma: float = 0.35  # log-uniform range
    contrast: float = 0.25
    brightness: float = 0.10
    noise: float = 0.04  # max std
    blur: float = 0.3  # probability
    # Film looks (off by default): on real films a bone is a bright cortical outline around a
    # darker trabecular interior, where phantoms draw filled plates. An unsharp mask of a
    # bone's width turns a plate into an outline; local contrast (CLAHE) imitates the
    # processing curves of CR/DR consoles. Both push the network to edges and shapes.
    unsharp: float = 0.0  # probability of an unsharp mask (amount 0.5..3, sigma 1..6 % of the side)
    local_contrast: float = 0.0  # probability of CLAHE
    zoom: float = 0.5  # probability that a stage-1 example is the zoomed view around the hips
    zoom_jitter: float = 0.12  # its centre's offset, std in inter-head distances (a first pass's error)
    enabled: bool = True

    @classmethod
    def off(cls) -> AugmentConfig:
        return cls(enabled=False)


def _unsharp(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = float(rng.uniform(0.01, 0.06)) * max(img.shape)
    amount = np.float32(rng.uniform(0.5, 3.0))
    out = img + amount * (img - cv2.GaussianBlur(img, (0, 0), sigmaX=sigma))
    return normalise(out.astype(np.float32, copy=False))


def _clahe(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    tiles = int(rng.integers(2, 9))
    clahe = cv2.createCLAHE(clipLimit=float(rng.uniform(1.5, 4.0)), tileGridSize=(tiles, tiles))
    u8 = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return clahe.apply(u8).astype(np.float32) / np.float32(255.0)


def _photometric(img: np.ndarray, rng: np.random.Generator, a: AugmentConfig) -> np.ndarray:
    if not a.enabled:
        return img
    if rng.random() < a.blur:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(0.3, 1.2)))
    if a.unsharp > 0 and rng.random() < a.unsharp:
        img = _unsharp(img, rng)
    if a.local_contrast > 0 and rng.random() < a.local_contrast:
        img = _clahe(img, rng)
    g = math.exp(rng.uniform(-a.gamma, a.gamma))
    img = np.power(np.clip(img, 0.0, 1.0), g, dtype=np.float32)
    gain = np.float32(1.0 + rng.uniform(-a.contrast, a.contrast))
    img = img * gain + np.float32(rng.uniform(-a.brightness, a.brightness))
    sd = rng.uniform(0.0, a.noise)
    if sd > 0:
        img = img + rng.normal(0.0, sd, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32, copy=False)


def _warp_normalised(src: np.ndarray, m: Affine, size: int) -> np.ndarray:
    """Warp with a NaN border so that normalisation ignores what lies outside the image."""
    out = cv2.warpAffine(np.asarray(src, dtype=np.float32), m.matrix, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    valid = np.isfinite(out)
    res = normalise(np.where(valid, out, 0), mask=valid)
    res[~valid] = 0.0
    return res


def zoom_side_range(zoom_side: float) -> tuple[float, float]:
    """Zoomed stage-1 views in training span this many inter-head distances: around the
    pipeline's own `zoom_side`, wider for a wrong first guess, tighter for a wide pelvis."""
    return 0.8 * zoom_side, 1.5 * zoom_side


_SWAP_PTS = [1, 0, 3, 2]


def _zoom_view(c: CachedImage, size: int, rng: np.random.Generator, a: AugmentConfig, zoom_side: float) -> Affine:
    """Full -> input of a zoomed stage-1 view: a square around the hips as the pipeline's
    second pass crops it, at a random scale, offset and rotation."""
    heads = c.hips[:, :2]
    d = max(float(np.hypot(*(heads[1] - heads[0]))), 1.0)
    lo, hi = zoom_side_range(zoom_side)
    side = d * math.exp(rng.uniform(math.log(lo), math.log(hi)))
    off = np.clip(rng.normal(0.0, a.zoom_jitter, 2), -2.5 * a.zoom_jitter, 2.5 * a.zoom_jitter) * d
    mid = heads.mean(axis=0) + off
    return crop_affine(float(mid[0]), float(mid[1]), side, size, angle_deg=rng.uniform(-a.rotate_deg, a.rotate_deg))


def stage1_example(c: CachedImage, size: int, rng: np.random.Generator, a: AugmentConfig, zoom_side: float = 2.8):
    """(input, points (4, 2), radii (2,)) in input pixels."""
    flip = a.enabled and rng.random() < a.flip
    zoomed = a.enabled and c.pelvis is not None and rng.random() < a.zoom
    if zoomed:
        base = _zoom_view(c, size, rng, a, zoom_side)
        src, src_affine = c.pelvis
    else:
        base = Letterbox(c.full_size[0], c.full_size[1], size).affine
        src, src_affine = c.overview, c.overview_affine
        if a.enabled:
            ang = math.radians(rng.uniform(-a.rotate_deg, a.rotate_deg))
            s = math.exp(rng.uniform(-a.scale, a.scale))
            tx, ty = rng.uniform(-a.shift, a.shift, 2) * size
            cx = cy = (size - 1) / 2
            cos, sin = math.cos(ang) * s, math.sin(ang) * s
            aug = Affine(cos, -sin, cx - cos * cx + sin * cy + tx, sin, cos, cy - sin * cx - cos * cy + ty)
            base = base.then(aug)
    if flip:
        base = base.then(hflip(size))
    img = _warp_normalised(src, src_affine.inverse().then(base), size)
    h = c.hips
    pts = base.apply(np.array([h[0, :2], h[1, :2], h[0, 3:5], h[1, 3:5]]))
    rad = h[:, 2] * base.scale
    if flip:  # the hip now on the image's left is the one that was on its right
        pts, rad = pts[_SWAP_PTS], rad[[1, 0]]
    return _photometric(img, rng, a), pts.astype(np.float32), rad.astype(np.float32)


def stage2_example(c: CachedImage, hip: int, size: int, crop_factor: float, rng: np.random.Generator,
                   a: AugmentConfig):
    """(input, points (2, 2) head+rim, radii (1,)) of one hip crop, mirrored for the image-left hip."""
    hx, hy, r, rx, ry = c.hips[hip]
    cx, cy, side, ang = hx, hy, crop_factor * r, 0.0
    if a.enabled:
        off = np.clip(rng.normal(0.0, a.crop_jitter, 2), -2.5 * a.crop_jitter, 2.5 * a.crop_jitter) * r
        cx, cy = hx + off[0], hy + off[1]
        side *= math.exp(float(np.clip(rng.normal(0.0, a.crop_scale), -2 * a.crop_scale, 2 * a.crop_scale)))
        ang = rng.uniform(-a.crop_rotate_deg, a.crop_rotate_deg)
    m = crop_affine(cx, cy, side, size, mirror=(hip == 0), angle_deg=ang)
    patch, pa = c.patches[hip]
    img = normalise(warp(np.asarray(patch, dtype=np.float32), pa.inverse().then(m), size))
    pts = m.apply(np.array([[hx, hy], [rx, ry]]))
    return _photometric(img, rng, a), pts.astype(np.float32), np.array([r * m.scale], dtype=np.float32)


class KeypointDataset:
    """torch-style Dataset over cached images; items are dicts of numpy arrays."""

    def __init__(self, cache: list[CachedImage], *, stage1_size: int, crop_size: int, crop_factor: float,
                 augment: AugmentConfig, seed: int, length: int | None = None, crops_per_hip: int = 1):
        if not cache:
            raise ValueError("no labelled images to train on")
        self.cache = cache
        self.stage1_size, self.crop_size, self.crop_factor = stage1_size, crop_size, crop_factor
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.length = max(len(cache), int(length or 0))
        # Stage 2 decides the NA's precision and its crops are cheap: several per hip per step.
        self.crops_per_hip = int(crops_per_hip)
        self.plan: list[int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def set_plan(self, plan: Sequence[int] | None) -> None:
        """Sample i reads cached image plan[i] (None: i modulo the cache size)."""
        if plan is not None and (len(plan) != self.length or not all(0 <= k < len(self.cache) for k in plan)):
            raise ValueError(f"plan must hold {self.length} indices into {len(self.cache)} cached images")
        self.plan = list(plan) if plan is not None else None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        c = self.cache[self.plan[index] if self.plan is not None else index % len(self.cache)]
        img1, pts1, rad1 = stage1_example(c, self.stage1_size, rng, self.augment)
        crops, pts2, rad2 = [], [], []
        for hip in [0, 1] * self.crops_per_hip:
            im, p, r = stage2_example(c, hip, self.crop_size, self.crop_factor, rng, self.augment)
            crops.append(im)
            pts2.append(p)
            rad2.append(r)
        return {"s1_img": img1[None], "s1_pts": pts1, "s1_rad": rad1,
                "s2_img": np.stack(crops)[:, None], "s2_pts": np.stack(pts2), "s2_rad": np.stack(rad2)}


# ---------------------------------------------------------------------------- sample sources

def split_of(name: str, val_fraction: float) -> str:
    """Deterministic train/val assignment by name (for folders without a project's splits)."""
    u = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if u < val_fraction else "train"


def samples_from_coco(folder_or_file: str | Path, *, val_fraction: float = 0.1) -> list[Sample]:
    """Labelled images of a COCO keypoints folder (e.g. `hipvision phantom` output)."""
    from hipvision.core.interchange import read_coco

    p = Path(folder_or_file)
    ann = p / "annotations.json" if p.is_dir() else p
    if not ann.is_file():
        raise FileNotFoundError(f"{ann}: no annotations.json here")
    root = ann.parent
    out = []
    for item in read_coco(ann):
        if item.landmarks is None:
            continue
        out.append(Sample(image=root / item.image, landmarks=item.landmarks, mapping=item.mapping,
                          spacing=item.spacing, name=item.image, split=split_of(item.image, val_fraction)))
    out.sort(key=lambda s: s.name)
    # A tiny folder must still validate on something.
    if out and not any(s.split == "val" for s in out) and len(out) >= 4:
        last = out[-1]
        out[-1] = Sample(**{**last.__dict__, "split": "val"})
    return out


def synthetic_sample(image: np.ndarray, landmarks: HipLandmarks, mapping: SideMapping, name: str) -> Sample:
    """A generated image with its labels, as a training sample: always split train, source
    synthetic (Sample refuses it anywhere else)."""
    return Sample(image=image, landmarks=landmarks, mapping=mapping, name=name, split="train", source="synthetic")


def samples_from_project(project, splits: Sequence[str], *, source: str | None = None) -> list[Sample]:
    """Labelled images of the chosen splits of a hipvision Project."""
    out = []
    for rec, lm in project.labelled(tuple(splits), source=source):
        out.append(Sample(image=rec.abs_path, landmarks=lm, mapping=rec.mapping, spacing=rec.spacing,
                          name=rec.path, split=rec.split, source=rec.source))
    return out


def data_summary(samples: Sequence[Sample]) -> dict:
    counts: dict[str, dict[str, int]] = {}
    for s in samples:
        counts.setdefault(s.split, {}).setdefault(s.source, 0)
        counts[s.split][s.source] += 1
    return {"images": len(samples), "by_split": counts}

