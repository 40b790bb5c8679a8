"""Label placement and symbol size on small hips (device pixels, no Qt)."""

import pytest

from hipvision.annotation.overlay_layout import Box, LabelRequest, marker_size, place_labels


def request(head, towards, outward, keep=()):
    # A 70 x 18 px label, as "R 105.0°" at 14 px; arc 22 px.
    return LabelRequest(head=head, towards=towards, outward=outward, start=22 + 5, size=(70.0, 18.0),
                        keep_clear=(head, *keep))


def small_hips():
    """Two heads 30 px apart (a whole-body view): each label's preferred spot, up the arc's
    bisector, lies over the other's; rims up and out, radius handles down and out."""
    left, right = (100.0, 200.0), (130.0, 200.0)
    return [request(left, (0.0, -1.0), (-1.0, 0.0), keep=((96.0, 193.0), (96.0, 205.0))),
            request(right, (0.0, -1.0), (1.0, 0.0), keep=((134.0, 193.0), (134.0, 205.0)))]


def test_labels_of_close_heads_are_disjoint_and_clear_of_every_landmark():
    reqs = small_hips()
    a, b = place_labels(reqs, clearance=4.0)
    assert not a.intersects(b)
    for box in (a, b):
        assert (box.width, box.height) == (70.0, 18.0)
        for r in reqs:
            assert not any(box.grown(4.0).contains(p) for p in r.keep_clear)


def test_normal_hips_keep_their_label_on_the_bisector():
    reqs = [request((100.0, 200.0), (0.6, -0.8), (-1.0, 0.0)), request((400.0, 200.0), (-0.6, -0.8), (1.0, 0.0))]
    a, b = place_labels(reqs, clearance=10.0)
    # Centre at start + the box's half extent along the bisector, as before the layout existed.
    d = 27 + 0.6 * 35 + 0.8 * 9
    assert ((a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2) == pytest.approx((100 + 0.6 * d, 200 - 0.8 * d))
    assert ((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2) == pytest.approx((400 - 0.6 * d, 200 - 0.8 * d))


def test_coincident_heads_still_get_disjoint_labels():
    r = request((100.0, 100.0), (0.0, -1.0), (0.0, -1.0))
    a, b = place_labels([r, r], clearance=4.0)
    assert not a.intersects(b)


def test_symbols_shrink_with_the_head_but_not_on_normal_hips():
    assert marker_size(60.0, 7.0) == 7.0
    assert marker_size(8.0, 7.0) == pytest.approx(2.8)
    assert marker_size(1.0, 7.0) == 2.0
    assert Box(0, 0, 2, 2).intersects(Box(1, 1, 3, 3)) and not Box(0, 0, 1, 1).intersects(Box(1, 0, 2, 1))
