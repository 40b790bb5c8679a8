import numpy as np
import pytest

from hipvision.core.image_pyramid import ImagePyramid


def test_levels_halve_and_keep_the_mean():
    px = np.random.default_rng(0).random((1700, 2100), dtype=np.float32)
    pyr = ImagePyramid(px, min_side=256)
    assert [lv.shape for lv in pyr.levels] == [(1700, 2100), (850, 1050), (425, 525), (213, 263)]
    assert pyr.levels[1].mean() == pytest.approx(px.mean(), rel=1e-4)
    assert pyr.level_for(0.5) == 0 and pyr.level_for(1.9) == 0 and pyr.level_for(2.5) == 1
    assert pyr.level_for(100) == 3  # the coarsest there is


def test_crop_covers_the_box_in_full_resolution_coordinates():
    px = np.arange(1024 * 1536, dtype=np.float32).reshape(1024, 1536)
    pyr = ImagePyramid(px, min_side=256)
    crop = pyr.crop(1, 200.0, 100.0, 600.0, 400.0, margin=0.0)
    x, y, w, h = crop.rect
    assert x <= 200 and y <= 100 and x + w >= 600 and y + h >= 400
    assert crop.contains(1, 250, 150, 550, 350) and not crop.contains(0, 250, 150, 550, 350)
    # The crop's first pixel is the 2x2 mean of the full-resolution block it covers.
    r0, c0 = crop.rows[0] * 2, crop.cols[0] * 2
    assert pyr.pixels(crop)[0, 0] == pytest.approx(px[r0:r0 + 2, c0:c0 + 2].mean())
    assert x == pytest.approx(c0 - 0.5) and y == pytest.approx(r0 - 0.5)
    whole = pyr.crop(0, -50, -50, 5000, 5000)
    assert pyr.pixels(whole).shape == px.shape


def test_value_at_reads_full_resolution():
    px = np.arange(12, dtype=np.float32).reshape(3, 4)
    pyr = ImagePyramid(px)
    assert pyr.value_at(3.2, 1.9) == 11.0 and pyr.value_at(-1, 0) is None
