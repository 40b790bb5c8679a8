"""Window/level: from full-bit-depth float pixels to 8-bit display values.

A window is (centre, width) in pixel units, as in DICOM: values below centre - width/2 show
black, above centre + width/2 white, linear in between. The mapping runs on OpenCV's
multi-threaded kernels because the GUI re-windows a 4,300 x 4,300 image on every drag.
"""

from __future__ import annotations

import math

import numpy as np

_AUTO_SAMPLES = 250_000  # percentiles of a 250k-pixel grid subsample are stable to << 1 %


def auto_window(pixels: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> tuple[float, float]:
    """Robust (centre, width) spanning the lo..hi percentiles, ignoring non-finite values."""
    if not 0.0 <= lo_pct < hi_pct <= 100.0:
        raise ValueError(f"lo_pct, hi_pct: need 0 <= lo < hi <= 100, got {lo_pct}, {hi_pct}")
    arr = np.asarray(pixels)
    if arr.size == 0:
        raise ValueError("pixels: empty array")
    step = max(1, int(math.sqrt(arr.size / _AUTO_SAMPLES)))
    sub = arr[::step, ::step] if arr.ndim == 2 else arr.ravel()[:: step * step]
    sub = np.asarray(sub, dtype=np.float64).ravel()
    if not np.isfinite(sub).all():
        sub = sub[np.isfinite(sub)]
        if sub.size == 0:
            return 0.0, 1.0
    lo, hi = np.percentile(sub, [lo_pct, hi_pct])
    if not hi > lo:  # flat image: any window shows it; keep it centred on the value
        return float(lo), 1.0
    return float((lo + hi) / 2.0), float(hi - lo)


def apply_window(pixels: np.ndarray, centre: float, width: float, *, invert: bool = False) -> np.ndarray:
    """uint8 display image: linear ramp from centre - width/2 (0) to centre + width/2 (255)."""
    import cv2

    width = float(width)
    if not (math.isfinite(width) and width > 0) or not math.isfinite(float(centre)):
        raise ValueError(f"window: need a finite centre and width > 0, got ({centre}, {width})")
    arr = np.asarray(pixels)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    lo = float(centre) - width / 2.0
    hi = lo + width
    gain = 255.0 / width
    # convertScaleAbs saturates to 0..255 but takes |value|: clamp first on the side that
    # would go negative, so the absolute value never folds dark values back to bright.
    # cv2.min/max take a scalar second operand at runtime; their stubs list only arrays.
    if invert:
        return cv2.convertScaleAbs(cv2.min(arr, hi), alpha=-gain, beta=hi * gain)  # type: ignore[call-overload]
    return cv2.convertScaleAbs(cv2.max(arr, lo), alpha=gain, beta=-lo * gain)  # type: ignore[call-overload]


def default_window(radiograph) -> tuple[float, float]:
    """The file's own window (DICOM VOI) when it has one, else the robust automatic one."""
    if radiograph.window is not None:
        return radiograph.window
    return auto_window(radiograph.pixels)


def to_uint8(radiograph) -> np.ndarray:
    """The radiograph as a vet first sees it: default window, bone bright."""
    centre, width = default_window(radiograph)
    return apply_window(radiograph.pixels, centre, width)
