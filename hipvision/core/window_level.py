"""Window/level presets and the right-drag rule (Qt-free).

A window is (centre, width) in the radiograph's own pixel units (DICOM convention), so a
16-bit image keeps its full depth and only the display mapping changes.
"""

from __future__ import annotations

import math

import numpy as np

from hipvision.core.windowing import auto_window

# name -> percentiles of the histogram without its extremes (None: the file's own window, or
# the automatic one); "Full range" keeps everything.
PRESETS: dict[str, tuple[float, float] | None] = {
    "Default (file / auto)": None,
    "Auto (histogram 0.5–99.5 %)": (0.5, 99.5),
    "Bone (high contrast)": (20.0, 99.8),
    "Soft tissue (wide)": (0.05, 90.0),
    "Full range": (0.0, 100.0),
}
DEFAULT_PRESET = "Default (file / auto)"

# Sensitivity of right-drag: 250 px doubles/halves the width; 500 px shifts the centre by a width.
WIDTH_GAIN_PER_PX = math.log(2.0) / 250.0
CENTRE_GAIN_PER_PX = 1.0 / 500.0


def robust_window(pixels: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> tuple[float, float]:
    """Percentile window of the pixels strictly between the image's minimum and maximum.

    Collimated borders (all at the minimum) and burnt-out areas (at the maximum) often cover
    a quarter of a radiograph; left in, they pull the 0.5/99.5 % percentiles to the extremes
    and the anatomy shows washed out."""
    flat = np.asarray(pixels, dtype=np.float32).ravel()
    step = max(1, flat.size // 1_000_000)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    inner = sample[(sample > sample.min()) & (sample < sample.max())]
    if inner.size < 0.05 * sample.size:  # mostly extremes: a binary-looking image, keep them
        inner = sample
    return auto_window(inner, lo_pct, hi_pct)


def preset_window(name: str, pixels: np.ndarray, file_window: tuple[float, float]) -> tuple[float, float]:
    if name not in PRESETS:
        raise ValueError(f"window preset must be one of {list(PRESETS)}, got {name!r}")
    pct = PRESETS[name]
    if pct is None:
        return file_window
    if pct == (0.0, 100.0):
        return auto_window(pixels, *pct)
    return robust_window(pixels, *pct)


def dragged_window(centre: float, width: float, dx: float, dy: float) -> tuple[float, float]:
    """Right-drag: right widens (less contrast), down raises the centre (darker), as in
    most PACS viewers."""
    new_width = max(1e-6, width * math.exp(dx * WIDTH_GAIN_PER_PX))
    return centre + dy * width * CENTRE_GAIN_PER_PX, new_width


def levels(centre: float, width: float) -> tuple[float, float]:
    return centre - width / 2.0, centre + width / 2.0
