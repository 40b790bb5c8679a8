"""UNet layouts per resolution, chosen so that a CPU can train and sample them.

The diffusers default `UNet2DModel` puts self-attention at every level but the first; at
128 px that is 16k-token attention and ~12 s per batch-2 forward on 2 CPU cores. Attention
only at the lowest resolution (8-16 px, <= 256 tokens) costs ~1 % of that and is where
global layout is decided anyway; the higher levels are convolutional.
"""

from __future__ import annotations

import math

# (base channels, per-level channel multipliers, resnet layers per block, GroupNorm groups)
_SIZES: dict[str, tuple[int, tuple[int, ...], int, int]] = {
    "tiny": (16, (1, 2, 2, 4, 4, 4, 4), 1, 8),
    "small": (32, (1, 1, 2, 2, 4, 4, 4), 1, 16),
    "base": (64, (1, 1, 2, 2, 4, 4, 4), 2, 32),
}
SIZES = tuple(_SIZES)
MIN_RESOLUTION, MAX_RESOLUTION = 32, 512
# The lowest level is 8 px up to 256 px input; 512 px stops at 16 px so the UNet keeps <= 7 levels.
_LOWEST_PX = 8
_MAX_LEVELS = 6


def check_resolution(resolution: int, field: str = "resolution") -> int:
    if (not isinstance(resolution, int) or isinstance(resolution, bool)
            or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION or resolution & (resolution - 1)):
        raise ValueError(
            f"{field}: must be a power of two in {MIN_RESOLUTION}..{MAX_RESOLUTION} px, got {resolution!r}")
    return resolution


def levels_for(resolution: int) -> int:
    """Number of UNet levels so that the lowest one is ~8 px."""
    check_resolution(resolution)
    return max(2, min(_MAX_LEVELS, int(math.log2(resolution // _LOWEST_PX)) + 1))


def unet_config(resolution: int, in_channels: int = 1, out_channels: int = 1, size: str = "small") -> dict:
    """Keyword arguments for `diffusers.UNet2DModel` with attention at the lowest level only."""
    check_resolution(resolution)
    if size not in _SIZES:
        raise ValueError(f"size: must be one of {SIZES}, got {size!r}")
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: must be a positive integer, got {v!r}")
    base, mults, layers, groups = _SIZES[size]
    n = levels_for(resolution)
    channels = tuple(base * m for m in mults[:n])
    down = ("DownBlock2D",) * (n - 1) + ("AttnDownBlock2D",)
    up = ("AttnUpBlock2D",) + ("UpBlock2D",) * (n - 1)
    return dict(
        sample_size=resolution,
        in_channels=in_channels,
        out_channels=out_channels,
        block_out_channels=channels,
        down_block_types=down,
        up_block_types=up,
        layers_per_block=layers,
        norm_num_groups=groups,
        attention_head_dim=8,
    )
