"""The geometry that maps model inputs back to full-image pixels must be exact."""

import math

import numpy as np
import pytest

from hipvision.ml.transforms import Affine, Letterbox, crop_affine, crop_input, hflip, letterbox_input, normalise, warp


def _disc(h, w, cx, cy, r, value=1.0):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.where((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r, value, 0.0).astype(np.float32)


def _centroid(img):
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    m = img.sum()
    return float((xx * img).sum() / m), float((yy * img).sum() / m)


def test_affine_inverse_and_composition_round_trip():
    a = Affine(1.7, 0.3, -4.0, -0.2, 0.9, 12.5)
    b = crop_affine(100.0, 50.0, 80.0, 64, mirror=True, angle_deg=7.0)
    pts = np.array([[0.0, 0.0], [123.4, -5.5], [1e3, 2e3]])
    assert np.allclose(a.inverse().apply(a.apply(pts)), pts, atol=1e-9)
    assert np.allclose(a.then(b).apply(pts), b.apply(a.apply(pts)), atol=1e-9)
    assert b.mirrors and not a.mirrors


@pytest.mark.parametrize("h,w,size", [(1017, 1024, 256), (1024, 879, 256), (300, 200, 128), (50, 80, 128)])
def test_letterbox_maps_a_disc_centre_to_where_it_is_drawn(h, w, size):
    cx, cy, r = w * 0.37 + 0.3, h * 0.61 - 0.2, min(h, w) * 0.12
    img = _disc(h, w, cx, cy, r)
    out, a = letterbox_input(img, Affine(), size)
    assert out.shape == (size, size)
    # The disc's centroid in the letterboxed image is the mapped centre (sub-pixel agreement).
    got = _centroid(out)
    want = a.apply([cx, cy])
    assert math.dist(got, want) < 0.15
    # and back: within a small fraction of one *input* pixel, in full-image pixels
    back = a.inverse().apply(np.array(got))
    assert math.dist(back, (cx, cy)) < 0.15 / a.scale


def test_letterbox_pads_centred_and_keeps_aspect():
    lb = Letterbox(100, 200, 128)
    assert lb.resized == (64, 128)
    assert lb.offset == (32, 0)
    corners = lb.affine.apply([[-0.5, -0.5], [199.5, 99.5]])  # outer pixel edges
    assert np.allclose(corners, [[-0.5, 31.5], [127.5, 95.5]])


def test_letterbox_of_a_reduced_decode_maps_full_resolution_coordinates():
    full_h, full_w, cx, cy, r = 2000, 1600, 611.0, 1222.0, 90.0
    img = _disc(full_h, full_w, cx, cy, r)
    import cv2

    small = cv2.resize(img, (400, 500), interpolation=cv2.INTER_AREA)  # a "decoded at 1/4" image
    to_small = Affine.scale_about_pixels(400 / full_w, 500 / full_h)
    out, a = letterbox_input(small, to_small, 256)
    back = a.inverse().apply(np.array(_centroid(out)))
    assert math.dist(back, (cx, cy)) < 1.0  # < 0.13 input px at 7.8 full px per input px


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("angle", [0.0, 9.0])
def test_crop_maps_points_exactly_and_antialiases(mirror, angle):
    h, w = 1200, 1400
    hx, hy, r = 700.3, 555.8, 60.0
    rim = (740.0, 490.0)
    m = crop_affine(hx + 11, hy - 7, 6 * r, 96, mirror=mirror, angle_deg=angle)
    # a small marker at the rim lands where the affine says (3.75x shrink, anti-aliased)
    marker = warp(_disc(h, w, *rim, 8.0), m, 96)
    assert math.dist(_centroid(marker), m.apply(rim)) < 0.1
    # and the head disc's centroid too, through the normalised crop
    crop = crop_input(_disc(h, w, hx, hy, r), Affine(), m, 96)
    assert math.dist(_centroid(crop), m.apply((hx, hy))) < 0.1
    # mirrored crops put the lateral side on the other hand
    if mirror:
        assert m.apply(rim)[0] < m.apply((hx, hy))[0]
    else:
        assert m.apply(rim)[0] > m.apply((hx, hy))[0]


def test_warp_outside_the_image_is_blank_not_an_error():
    img = np.ones((50, 50), np.float32)
    m = crop_affine(5000.0, 5000.0, 40.0, 32)
    assert warp(img, m, 32).shape == (32, 32)


def test_hflip_is_an_involution():
    f = hflip(17)
    assert np.allclose(f.then(f).matrix, Affine().matrix)
    assert np.allclose(f.apply([0, 3]), [16, 3])


def test_normalise_is_robust_to_bit_depth():
    rng = np.random.default_rng(0)
    a = rng.random((64, 64)).astype(np.float32)
    assert np.allclose(normalise(a * 4095), normalise(a * 255 + 7), atol=1e-5)
    flat = normalise(np.full((8, 8), 3.0, np.float32))
    assert np.isfinite(flat).all()


def test_crop_affine_rejects_nonsense():
    with pytest.raises(ValueError, match="crop side"):
        crop_affine(0, 0, 0.0, 32)
