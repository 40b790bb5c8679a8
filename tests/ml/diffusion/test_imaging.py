"""Crops and their labels: the generator's framing must be the refinement stage's framing,
and landmarks must follow the pixels exactly."""

import numpy as np
import pytest

from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks, SideMapping
from hipvision.ml.diffusion.condition_maps import condition_maps, n_channels, peak
from hipvision.ml.diffusion.imaging import (
    CROP_MAPPING,
    CROP_SIDE,
    crop_landmarks,
    crop_unit,
    from_signed,
    hip_crop_affine,
    to_signed,
    visible_side,
)
from hipvision.ml.transforms import crop_affine


def _disc_image(lm: HipLandmarks, h=600, w=800):
    """Bright head discs and small rim dots, so crops can be read back by centroid."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w), np.float32)
    for s in (lm.left, lm.right):
        img += 1000 * (np.hypot(xx - s.head_x, yy - s.head_y) <= s.head_r)
        img += 400 * (np.hypot(xx - s.rim_x, yy - s.rim_y) <= 4)
    return img


LM = HipLandmarks(left=SideLandmarks(560.3, 310.7, 40.0, 590.2, 262.1),
                  right=SideLandmarks(240.6, 300.2, 41.0, 211.9, 253.4))


@pytest.mark.parametrize("mapping", [SideMapping(True), SideMapping(False)])
@pytest.mark.parametrize("image_side", ["image_left", "image_right"])
def test_crop_labels_follow_the_pixels(mapping, image_side):
    lm = LM if mapping.right_on_image_left else LM.swapped()  # keep the same picture
    img = _disc_image(LM)
    t = hip_crop_affine(lm, mapping, image_side, crop_radii=6.0, out_px=96)
    crop = crop_unit(img, t, 96)
    clm = crop_landmarks(t, lm, mapping, image_side)
    hip = clm.side(CROP_SIDE)
    # the head disc is centred on the crop (as the refinement stage's crops are)
    yy, xx = np.mgrid[0:96, 0:96]
    head = crop > 0.8
    cx, cy = (xx * head).sum() / head.sum(), (yy * head).sum() / head.sum()
    assert (cx, cy) == pytest.approx((hip.head_x, hip.head_y), abs=0.3)
    assert (hip.head_x, hip.head_y) == pytest.approx((47.5, 47.5), abs=1e-9)
    assert hip.head_r == pytest.approx(96 / 6.0, rel=1e-9)
    # canonical view: the other hip lies off to the crop's left, the crop hip's rim to the right of its head
    other = clm.side(CROP_SIDE.other)
    assert other.head_x < 0 and hip.rim_x > hip.head_x
    # a crop map keeps angles: the NA of the crop hip is the source hip's NA
    assert clm.norberg_angle(CROP_SIDE) == pytest.approx(lm.norberg_angle(visible_side(mapping, image_side)), abs=1e-9)
    # the same map as the keypoint model's own crop (so synthetic crops frame like real ones)
    src = lm.side(visible_side(mapping, image_side))
    ref = crop_affine(src.head_x, src.head_y, 6.0 * src.head_r, 96, mirror=image_side == "image_left")
    assert np.allclose(ref.matrix, t.matrix)


def test_condition_maps_peak_on_the_landmarks():
    hip = SideLandmarks(30.25, 33.5, 10.0, 36.75, 22.0)
    lm = HipLandmarks(left=hip, right=SideLandmarks(-80.0, 33.0, 10.0, -86.0, 22.0))
    maps = condition_maps(lm, CROP_MAPPING, "crop", 64, sigma=1.5)
    assert maps.shape == (n_channels("crop"), 64, 64) == (4, 64, 64)
    assert np.all(maps[0] == 1.0)
    assert peak(maps[1]) == pytest.approx((hip.head_x, hip.head_y), abs=0.15)
    assert peak(maps[2]) == pytest.approx((hip.rim_x, hip.rim_y), abs=0.15)
    ring = maps[3]
    yy, xx = np.mgrid[0:64, 0:64]
    d = np.hypot(xx - hip.head_x, yy - hip.head_y)
    assert float((d * ring).sum() / ring.sum()) == pytest.approx(hip.head_r, abs=0.3)
    whole = condition_maps(LM, SideMapping(), "whole", 64, sigma=2.0)
    assert whole.shape == (7, 64, 64)
    with pytest.raises(ValueError, match="framing"):
        condition_maps(LM, SideMapping(), "pelvis", 64)


def test_signed_round_trip():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(from_signed(to_signed(u8 / 255.0))[0], u8)
    assert CROP_SIDE is Side.LEFT and CROP_MAPPING.image_side(CROP_SIDE) == "image_right"
