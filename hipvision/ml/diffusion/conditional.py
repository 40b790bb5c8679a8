"""Labelled conditional generation: a DDPM conditioned on landmark maps.

Framings (ConditionalConfig.framing):
- crop (default): the generator draws hip-level crops, the view of the keypoint model's
  refinement stage (`crop_radii` head radii wide, canonical orientation), where a landmark
  spans a few pixels even at 64 px. Each synthetic radiograph is a real training radiograph
  whose two hip regions are replaced by generated crops conditioned on retargeted landmarks,
  blended in with a feathered border and matched to the radiograph's intensities. The labels
  are exactly the condition, and the image is a full radiograph, so it is a training sample
  for both stages of the keypoint model as it stands.
- whole: the whole radiograph at `resolution` px (both hips conditioned). Cheap, but a
  whole 128-px image cannot carry sub-degree landmarks; useful for stage 1 only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipvision.core.landmarks import HipLandmarks, Side, SideMapping
from hipvision.ml.diffusion.condition_maps import FRAMINGS, condition_maps, n_channels
from hipvision.ml.diffusion.imaging import (
    CROP_MAPPING,
    crop_landmarks,
    crop_unit,
    hip_crop_affine,
    letterbox_unit,
    map_landmarks,
    to_signed,
)
from hipvision.ml.diffusion.na_sampling import NADistribution, PlausibilityLimits, draw_pair_conditions
from hipvision.ml.diffusion.sources import LabelledImage
from hipvision.ml.pipeline import HIPS, PipelineOptions
from hipvision.ml.transforms import Affine, hflip, warp

DEFAULT_CROP_RADII = PipelineOptions().crop_factor  # the refinement stage's crop, so the views match


@dataclass(frozen=True)
class ConditionalConfig:
    framing: str = "crop"
    crop_radii: float = DEFAULT_CROP_RADII
    variants: int = 8  # training views per hip (crop) or per image (whole: flips)
    jitter_shift: float = 0.15  # crop centre offset, +- head radii
    jitter_scale: float = 0.08  # crop side, +- relative
    jitter_rotate_deg: float = 6.0
    sigma: float = 1.5  # landmark-map Gaussian, generator pixels
    max_side: int = 1024  # radiographs are read (and composites written) at most this large
    feather: float = 0.12  # share of the crop side over which a pasted crop blends in

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing: must be one of {FRAMINGS}, got {self.framing!r}")
        if not 2.0 <= self.crop_radii <= 16.0:
            raise ValueError(f"crop_radii: must be in 2..16 head radii, got {self.crop_radii!r}")
        if not isinstance(self.variants, int) or self.variants < 1:
            raise ValueError(f"variants: must be a positive integer, got {self.variants!r}")
        for name, hi in (("jitter_shift", 1.0), ("jitter_scale", 0.5), ("jitter_rotate_deg", 45.0), ("feather", 0.4)):
            v = getattr(self, name)
            if not 0 <= v <= hi:
                raise ValueError(f"{name}: must be in [0, {hi}], got {v!r}")
        if not self.sigma > 0:
            raise ValueError(f"sigma: must be > 0, got {self.sigma!r}")
        if not isinstance(self.max_side, int) or self.max_side < 64:
            raise ValueError(f"max_side: must be an integer >= 64, got {self.max_side!r}")

    def meta(self) -> dict:
        return {"framing": self.framing, "crop_radii": self.crop_radii, "sigma": self.sigma,
                "max_side": self.max_side, "feather": self.feather}


def _jitter(rng: np.random.Generator, cfg: ConditionalConfig, v: int) -> dict:
    if v == 0:
        return {}
    return {"shift": tuple(rng.uniform(-cfg.jitter_shift, cfg.jitter_shift, 2)),
            "scale": float(math.exp(rng.uniform(-cfg.jitter_scale, cfg.jitter_scale))),
            "angle_deg": float(rng.uniform(-cfg.jitter_rotate_deg, cfg.jitter_rotate_deg))}


def training_set(images: list[LabelledImage], cfg: ConditionalConfig, resolution: int, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 1, R, R) in [-1, 1], conditions (N, C, R, R)) from labelled real training images."""
    rng = np.random.default_rng([seed, 7])
    xs, cs = [], []
    for img in images:
        if img.landmarks is None:
            raise ValueError(f"{img.name}: the conditional generator needs labelled images")
        if cfg.framing == "crop":
            for hip in HIPS:
                for v in range(cfg.variants):
                    t = hip_crop_affine(img.landmarks, img.mapping, hip, crop_radii=cfg.crop_radii,
                                        out_px=resolution, **_jitter(rng, cfg, v))
                    xs.append(crop_unit(img.pixels, t, resolution))
                    lm = crop_landmarks(t, img.landmarks, img.mapping, hip)
                    cs.append(condition_maps(lm, CROP_MAPPING, "crop", resolution, cfg.sigma))
        else:
            unit, t = letterbox_unit(img.pixels, resolution)
            for v in range(min(cfg.variants, 2)):
                m, mapping, pix = t, img.mapping, unit
                if v == 1:  # mirrored: the hips change image sides, the labels follow
                    m, mapping, pix = t.then(hflip(resolution)), img.mapping.swapped(), unit[:, ::-1]
                xs.append(np.ascontiguousarray(pix))
                cs.append(condition_maps(map_landmarks(m, img.landmarks), mapping, "whole", resolution, cfg.sigma))
    return to_signed(np.stack(xs)), np.stack(cs).astype(np.float32)


@dataclass(frozen=True, eq=False)
class LabelledSynthetic:
    """One generated radiograph with its exact labels (= the condition it was drawn from)."""

    image: np.ndarray  # uint8 (H, W)
    landmarks: HipLandmarks  # in `image` pixels
    mapping: SideMapping
    seed: int
    source: str  # the training image whose configuration (and, for crops, background) was used
    target_na: dict[str, float] = field(default_factory=dict)

    def caption(self) -> str:
        na = self.landmarks.norberg_angles()
        return f"NA R {na[Side.RIGHT]:.1f}° / L {na[Side.LEFT]:.1f}° (seed {self.seed})"


def _crop_seed(seed: int, hip: int) -> int:
    return (int(seed) * 2 + hip) % (2**63)


def _feather_mask(size: int, feather: float) -> np.ndarray:
    ramp = max(1.0, feather * size)
    d = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32) + 0.5
    w = np.clip(d / ramp, 0.0, 1.0)
    w = 0.5 - 0.5 * np.cos(np.pi * w)
    return np.outer(w, w).astype(np.float32)


def paste_crop(canvas: np.ndarray, crop_u8: np.ndarray, t: Affine, feather: float) -> None:
    """Blend a generated crop (uint8, normalised crop intensities) into `canvas` (float32,
    source intensities) in place, undoing the crop normalisation with the source crop's
    own percentiles so brightness and contrast match."""
    import cv2

    size = crop_u8.shape[0]
    src = warp(canvas, t, size)
    lo, hi = np.percentile(src.reshape(-1), [0.5, 99.5])
    if not hi > lo:
        hi = lo + 1.0
    vals = crop_u8.astype(np.float32) / 255.0 * np.float32(hi - lo) + np.float32(lo)
    inv = t.inverse().matrix
    h, w = canvas.shape
    back = cv2.warpAffine(vals, inv, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(_feather_mask(size, feather), inv, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    canvas *= 1.0 - mask
    canvas += mask * back


def sample_conditional(gen_dir: Path, images: list[LabelledImage], n: int, *, dist: NADistribution, seed: int,
                       scheduler: str = "ddim", steps: int = 25, guidance: float = 2.0, batch_size: int = 8,
                       limits: PlausibilityLimits = PlausibilityLimits(), device=None, progress=None, cancel=None,
                       on_sample=None) -> list[LabelledSynthetic]:
    """n labelled synthetic radiographs. Image k uses seed + k (its crops seed*2 and seed*2+1);
    its landmark configuration comes from a training image with NAs drawn from `dist`."""
    from hipvision.core.windowing import apply_window, auto_window
    from hipvision.ml.device import pick_device
    from hipvision.ml.diffusion.denoiser_training import load_unet
    from hipvision.ml.diffusion.sampling import sample_images

    device = device or pick_device("auto")
    unet, meta = load_unet(gen_dir, device)
    if meta.get("method") != "conditional":
        raise ValueError(f"{gen_dir}: not a conditional generator (method {meta.get('method')!r})")
    cfg = ConditionalConfig(framing=meta["framing"], crop_radii=meta["crop_radii"], sigma=meta["sigma"],
                            max_side=meta.get("max_side", 1024), feather=meta.get("feather", 0.12))
    res = int(meta["resolution"])
    if unet.config.in_channels != 1 + n_channels(cfg.framing):
        raise ValueError(f"{gen_dir}: UNet input channels do not match framing {cfg.framing!r}")
    labelled = [im for im in images if im.landmarks is not None]
    bank = [im.landmarks for im in labelled]
    rng = np.random.default_rng([seed, 11])
    drawn = draw_pair_conditions(bank, n, dist, rng, limits)
    seeds = [int(seed) + k for k in range(n)]
    out: list[LabelledSynthetic] = []
    per_image = 2 if cfg.framing == "crop" else 1
    # Work in chunks so previews stream while a long run continues.
    chunk = max(1, batch_size // per_image)
    for lo in range(0, n, chunk):
        ks = range(lo, min(n, lo + chunk))
        conds, crop_seeds, maps = [], [], []
        for k in ks:
            c, src = drawn[k], labelled[drawn[k].source]
            if cfg.framing == "crop":
                for h, hip in enumerate(HIPS):
                    t = hip_crop_affine(c.landmarks, src.mapping, hip, crop_radii=cfg.crop_radii, out_px=res)
                    maps.append(t)
                    conds.append(condition_maps(crop_landmarks(t, c.landmarks, src.mapping, hip), CROP_MAPPING,
                                                "crop", res, cfg.sigma))
                    crop_seeds.append(_crop_seed(seeds[k], h))
            else:
                _, t = letterbox_unit(src.pixels, res)
                maps.append(t)
                conds.append(condition_maps(map_landmarks(t, c.landmarks), src.mapping, "whole", res, cfg.sigma))
                crop_seeds.append(seeds[k])

        def prog(done, total, msg, lo=lo):
            if progress is not None:
                progress(lo * per_image * steps + done, n * per_image * steps, f"generating {msg}")

        gen = sample_images(unet, meta["scheduler"], seeds=crop_seeds, scheduler=scheduler, steps=steps,
                            conds=np.stack(conds), guidance=guidance, batch_size=len(crop_seeds), device=device,
                            progress=prog, cancel=cancel)
        for j, k in enumerate(ks):
            c, src = drawn[k], labelled[drawn[k].source]
            if cfg.framing == "crop":
                canvas = np.array(src.pixels, dtype=np.float32, copy=True)
                for h in range(2):
                    paste_crop(canvas, gen[j * 2 + h], maps[j * 2 + h], cfg.feather)
                image = apply_window(canvas, *auto_window(src.pixels))
                lm = c.landmarks
            else:
                image, lm = gen[j], map_landmarks(maps[j], c.landmarks)
            item = LabelledSynthetic(image=image, landmarks=lm, mapping=src.mapping, seed=seeds[k], source=src.name,
                                     target_na=dict(zip(c.sides, c.targets)))
            out.append(item)
            if on_sample is not None:
                on_sample(item)
    return out


def train_conditional(images: list[LabelledImage], cfg: ConditionalConfig, train, out_dir: Path, *,
                      progress=None, cancel=None):
    """Train the landmark-conditioned UNet on `images` (real, labelled, training split);
    `train` is a DenoiserTrainConfig. Returns training.TrainedGenerator."""
    from hipvision.ml.diffusion.denoiser_training import train_denoiser

    x, c = training_set(images, cfg, train.resolution, train.seed)
    meta = {"method": "conditional", **cfg.meta(), "variants": cfg.variants,
            "training_images": [im.name for im in images]}
    return train_denoiser(train, x, c, out_dir, meta, progress=progress, cancel=cancel)
