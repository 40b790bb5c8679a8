"""Wide-field phantoms: any framing, the landmarks still exact, classic phantoms untouched."""

import hashlib

import numpy as np
import pytest

from hipvision.core.landmarks import Side
from hipvision.phantom import PhantomConfig, render_phantom

WIDE = PhantomConfig(size=384, wide_fraction=1.0)


@pytest.fixture(scope="module")
def wide_cases():
    return [render_phantom(500 + i, WIDE) for i in range(16)]


def test_wide_phantoms_keep_exact_landmarks_inside_the_image(wide_cases):
    for case in wide_cases:
        h, w = case.pixels.shape
        for side in Side:
            sl = case.landmarks.side(side)
            assert abs(case.landmarks.norberg_angle(side) - case.target_na[side.value]) < 1e-9
            assert 0 <= sl.head_x - sl.head_r and sl.head_x + sl.head_r <= w
            assert 0 <= sl.head_y - sl.head_r and sl.head_y + sl.head_r <= h
            assert 0 <= sl.rim_x < w and 0 <= sl.rim_y < h


def test_framing_ranges_from_whole_body_to_pelvis_and_moves_the_pelvis(wide_cases):
    fractions = np.array([c.params["pelvis_fraction"] for c in wide_cases])
    assert all(c.params["wide"] for c in wide_cases)
    assert fractions.min() < 0.16 and fractions.max() > 0.45, fractions
    # the hips' midpoint is not always near the centre (classic phantoms keep it within +-10 %)
    mid_y = [0.5 * (c.landmarks.left.head_y + c.landmarks.right.head_y) / c.pixels.shape[0] for c in wide_cases]
    assert max(mid_y) - min(mid_y) > 0.4
    # dog sizes from toy to giant: the head radius in mm (radius px x spacing) spans the breeds
    head_mm = [c.landmarks.left.head_r * c.spacing[1] for c in wide_cases]
    assert min(head_mm) < 7 and max(head_mm) > 12 and all(3.5 < v < 17 for v in head_mm)


def test_film_borders_and_labels_never_cover_the_hips():
    """Every frame side, stripes, ragged edges and many labels: the hips' box stays untouched."""
    from hipvision.phantom.film import add_borders, add_labels

    f = {"border_sides": [True] * 4, "border_bright": 0.9, "border_edge_dark": True, "stripes": True,
         "ragged": True, "labels": 3, "label_box": True, "invert_label": False}
    for seed in range(12):
        rng = np.random.default_rng(seed)
        img = np.full((300, 240), 0.3, np.float32)
        keep = (60, 90, 170, 200)  # x0, y0, x1, y1
        add_borders(img, keep, f, rng)
        add_labels(img, keep, f, rng)
        assert (img != np.float32(0.3)).any(), "nothing was drawn"
        np.testing.assert_array_equal(img[keep[1]:keep[3] + 1, keep[0]:keep[2] + 1], np.float32(0.3))


def test_wide_fraction_zero_renders_the_classic_phantom_unchanged():
    classic = render_phantom(123, PhantomConfig(size=256))
    again = render_phantom(123, PhantomConfig(size=256, wide_fraction=0.0))
    assert not classic.params["wide"]
    np.testing.assert_array_equal(classic.pixels, again.pixels)
    # the digest of this phantom before wide-field phantoms existed: the classic stream is untouched
    assert hashlib.sha256(classic.pixels.tobytes()).hexdigest()[:16] == "286c102236da798c"
    wide = render_phantom(123, PhantomConfig(size=256, wide_fraction=1.0))
    assert wide.params["wide"] and wide.target_na == classic.target_na  # same dog, other framing


def test_wide_fraction_is_validated():
    with pytest.raises(ValueError, match="wide_fraction"):
        PhantomConfig(wide_fraction=1.5)
