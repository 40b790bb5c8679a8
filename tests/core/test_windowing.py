"""Window/level to 8-bit display values."""

from __future__ import annotations

import numpy as np
import pytest

from hipvision.core.radiograph import Radiograph
from hipvision.core.windowing import apply_window, auto_window, default_window, to_uint8


def _reference(x, centre, width):
    lo = centre - width / 2
    return np.clip(np.rint((np.asarray(x, np.float64) - lo) * 255 / width), 0, 255)


def test_apply_window_maps_the_ramp_and_saturates():
    x = np.array([[-5000, 900, 1000, 1100, 1200, 1e9]], np.float32)
    out = apply_window(x, centre=1100, width=200)
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert out[0].tolist()[:3] == [0, 0, 0] and out[0].tolist()[4:] == [255, 255]
    assert abs(int(out[0, 3]) - 128) <= 1  # centre maps to mid-grey


def test_apply_window_matches_reference_and_invert_mirrors():
    rng = np.random.default_rng(3)
    x = rng.normal(2000, 800, (301, 257)).astype(np.float32)
    out = apply_window(x, 2100, 1500)
    assert np.abs(out.astype(int) - _reference(x, 2100, 1500)).max() <= 1
    inv = apply_window(x, 2100, 1500, invert=True)
    assert np.abs(inv.astype(int) - (255 - _reference(x, 2100, 1500))).max() <= 1
    # monotone: brighter input never gives a darker output
    order = np.argsort(x.ravel())
    assert (np.diff(out.ravel()[order].astype(int)) >= 0).all()
    # other input types give the same picture
    np.testing.assert_array_equal(apply_window(x.astype(np.float64), 2100, 1500), out)
    u16 = np.clip(x, 0, 65535).astype(np.uint16)
    assert np.abs(apply_window(u16, 2100, 1500).astype(int) - _reference(u16, 2100, 1500)).max() <= 1


@pytest.mark.parametrize("centre,width", [(0, 0), (0, -3), (float("nan"), 10), (0, float("inf"))])
def test_apply_window_rejects_bad_windows(centre, width):
    with pytest.raises(ValueError, match="window"):
        apply_window(np.zeros((2, 2), np.float32), centre, width)


def test_auto_window_robust_percentiles():
    ramp = np.linspace(0, 1000, 1000 * 1000, dtype=np.float32).reshape(1000, 1000)
    centre, width = auto_window(ramp)
    assert centre == pytest.approx(500, abs=2) and width == pytest.approx(990, rel=0.01)
    hot = ramp.copy()
    hot[::97, ::89] = 1e7  # a few saturated detector pixels must not flatten the picture
    assert auto_window(hot) == pytest.approx((centre, width), rel=0.02)
    c2, w2 = auto_window(ramp, 10, 90)
    assert c2 == pytest.approx(500, abs=2) and w2 == pytest.approx(800, rel=0.01)


def test_auto_window_subsample_agrees_with_full_percentiles():
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 300.0, (2000, 1500)).astype(np.float32)
    lo, hi = np.percentile(x, [0.5, 99.5])
    centre, width = auto_window(x)
    assert centre == pytest.approx((lo + hi) / 2, rel=0.01) and width == pytest.approx(hi - lo, rel=0.02)


def test_auto_window_flat_nan_and_bad_args():
    assert auto_window(np.full((10, 10), 7.0, np.float32)) == (7.0, 1.0)
    x = np.linspace(0, 100, 400, dtype=np.float32).reshape(20, 20)
    x[0, :5] = np.nan
    centre, width = auto_window(x)
    assert np.isfinite(centre) and 90 < width < 101
    with pytest.raises(ValueError, match="lo_pct"):
        auto_window(x, 60, 40)


def _radiograph(pixels, window):
    return Radiograph(pixels=pixels, path=None, format="dicom", bit_depth=12, spacing=None, modality="DX",
                      window=window, full_size=pixels.shape)


def test_to_uint8_prefers_the_file_window():
    px = np.linspace(0, 4095, 64 * 64, dtype=np.float32).reshape(64, 64)
    with_voi = _radiograph(px, (1000.0, 200.0))
    assert default_window(with_voi) == (1000.0, 200.0)
    np.testing.assert_array_equal(to_uint8(with_voi), apply_window(px, 1000, 200))
    auto = _radiograph(px, None)
    assert default_window(auto) == auto_window(px)
    out = to_uint8(auto)
    assert out.min() == 0 and out.max() == 255 and out[0, 0] < out[-1, -1]  # bone (high) is bright
