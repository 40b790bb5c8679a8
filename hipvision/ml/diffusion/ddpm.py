"""Unconditional DDPM (the poster's method): whole radiographs, letterboxed, grayscale.

Unlabelled: every sample is pre-labelled by the active keypoint model and waits in the
review queue. Training sees random horizontal flips (a mirrored VD radiograph is still one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hipvision.ml.diffusion.imaging import letterbox_unit, to_signed
from hipvision.ml.diffusion.sources import LabelledImage


def training_set(images: list[LabelledImage], resolution: int) -> np.ndarray:
    """(N, 1, R, R) in [-1, 1]."""
    return to_signed(np.stack([letterbox_unit(im.pixels, resolution)[0] for im in images]))


def train_ddpm(images: list[LabelledImage], train, out_dir: Path, *, progress=None, cancel=None):
    """`train` is a DenoiserTrainConfig (hflip is forced on). Returns TrainedGenerator."""
    from dataclasses import replace

    from hipvision.ml.diffusion.denoiser_training import train_denoiser

    x = training_set(images, train.resolution)
    meta = {"method": "ddpm", "framing": "whole", "training_images": [im.name for im in images]}
    return train_denoiser(replace(train, hflip=True), x, None, out_dir, meta, progress=progress, cancel=cancel)


def sample_ddpm(gen_dir: Path, *, seeds, scheduler: str = "ddpm", steps: int = 1000, batch_size: int = 8,
                device=None, progress=None, cancel=None, on_image=None) -> np.ndarray:
    """uint8 (len(seeds), R, R). DDPM with 1000 steps is the poster's sampler; DDIM with 25-50
    steps is ~20-40x faster for a similar look."""
    from hipvision.ml.device import pick_device
    from hipvision.ml.diffusion.denoiser_training import load_unet
    from hipvision.ml.diffusion.sampling import sample_images

    device = device or pick_device("auto")
    unet, meta = load_unet(gen_dir, device)
    if meta.get("method") != "ddpm":
        raise ValueError(f"{gen_dir}: not a DDPM generator (method {meta.get('method')!r})")
    return sample_images(unet, meta["scheduler"], seeds=list(seeds), scheduler=scheduler, steps=steps,
                         batch_size=batch_size, device=device, progress=progress, cancel=cancel, on_image=on_image)
