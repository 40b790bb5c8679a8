"""Landmark maps that condition the labelled generator.

Channel 0 says "a condition is present" (all ones); classifier-free guidance trains with the
whole stack zeroed now and then, and samples with both. Then per hip, in image order
(image-left hip first): a Gaussian at the head centre, a Gaussian at the acetabular rim point,
and a Gaussian ring on the head's outline (so the radius is conditioned, not only the centre).
A crop holds one hip (the canonical crop hip, imaging.CROP_SIDE), a whole image two.
"""

from __future__ import annotations

import numpy as np

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.ml.diffusion.imaging import CROP_SIDE

PER_HIP = 3  # head, rim, circle
FRAMINGS = ("crop", "whole")


def n_channels(framing: str) -> int:
    if framing not in FRAMINGS:
        raise ValueError(f"framing: must be one of {FRAMINGS}, got {framing!r}")
    return 1 + PER_HIP * (1 if framing == "crop" else 2)


def _hip_maps(s: SideLandmarks, size: int, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    inv = 1.0 / (2.0 * sigma * sigma)
    head = np.exp(-((xx - s.head_x) ** 2 + (yy - s.head_y) ** 2) * inv)
    rim = np.exp(-((xx - s.rim_x) ** 2 + (yy - s.rim_y) ** 2) * inv)
    d = np.sqrt((xx - s.head_x) ** 2 + (yy - s.head_y) ** 2)
    circle = np.exp(-((d - s.head_r) ** 2) * inv)
    return np.stack([head, rim, circle]).astype(np.float32)


def condition_maps(lm: HipLandmarks, mapping: SideMapping, framing: str, size: int,
                   sigma: float = 1.5) -> np.ndarray:
    """(C, size, size) float32 in [0, 1] for landmarks given in the generator's pixels.
    A crop shows one hip, CROP_SIDE (crops are canonical; `mapping` is then unused)."""
    n_channels(framing)
    if not sigma > 0:
        raise ValueError(f"sigma: must be > 0, got {sigma!r}")
    hips = [lm.side(CROP_SIDE)] if framing == "crop" else list(mapping.to_image_order(lm))
    maps = [np.ones((1, size, size), np.float32)] + [_hip_maps(h, size, sigma) for h in hips]
    return np.concatenate(maps)


def peak(channel: np.ndarray) -> tuple[float, float]:
    """Sub-pixel (x, y) of a Gaussian spot: the intensity-weighted centroid around the maximum.
    Used by tests to read a condition back."""
    y, x = np.unravel_index(int(np.argmax(channel)), channel.shape)
    y0, y1, x0, x1 = max(0, y - 3), y + 4, max(0, x - 3), x + 4
    w = channel[y0:y1, x0:x1].astype(np.float64)
    yy, xx = np.mgrid[y0:y0 + w.shape[0], x0:x0 + w.shape[1]]
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())
