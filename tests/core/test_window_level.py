import numpy as np
import pytest

from hipvision.core.window_level import DEFAULT_PRESET, PRESETS, dragged_window, preset_window


def test_presets():
    px = np.linspace(0, 1000, 10_000, dtype=np.float32).reshape(100, 100)
    assert preset_window(DEFAULT_PRESET, px, (1.0, 2.0)) == (1.0, 2.0)
    c, w = preset_window("Full range", px, (1.0, 2.0))
    assert (c, w) == pytest.approx((500, 1000))
    assert set(PRESETS) >= {DEFAULT_PRESET, "Full range"}
    with pytest.raises(ValueError, match="window preset must be one of"):
        preset_window("Lung", px, (1, 2))


def test_right_drag_rule():
    c, w = dragged_window(100.0, 50.0, 250.0, 0.0)
    assert (c, w) == pytest.approx((100.0, 100.0))  # 250 px right doubles the width
    c, w = dragged_window(100.0, 50.0, 0.0, 500.0)
    assert (c, w) == pytest.approx((150.0, 50.0))  # 500 px down moves the centre one width
    assert dragged_window(0.0, 1.0, -1e6, 0)[1] > 0
