import math

import pytest

from hipvision.annotation.landmark_edit import (
    ALL_HANDLES,
    HandleKey,
    apply_circle_fit,
    default_landmarks,
    handle_position,
    move_handle,
    nudge_handle,
)
from hipvision.core.geometry import fit_circle
from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks, SideMapping

LM = HipLandmarks(left=SideLandmarks(300, 200, 30, 330, 170), right=SideLandmarks(100, 205, 28, 75, 172))


def test_moving_a_head_keeps_its_radius_and_the_rim():
    moved = move_handle(LM, HandleKey(Side.RIGHT, "head"), 110, 190)
    assert moved.right == SideLandmarks(110, 190, 28, 75, 172)
    assert moved.left == LM.left
    # The radius handle travels with the head: still on the outline.
    rx, ry = handle_position(moved, HandleKey(Side.RIGHT, "radius"))
    assert math.hypot(rx - 110, ry - 190) == pytest.approx(28)


def test_radius_handle_sets_the_radius_and_sits_lateral_caudal():
    rx, ry = handle_position(LM, HandleKey(Side.LEFT, "radius"))
    assert rx > LM.left.head_x and ry > LM.left.head_y  # left hip is on the image right here
    rx, ry = handle_position(LM, HandleKey(Side.RIGHT, "radius"))
    assert rx < LM.right.head_x and ry > LM.right.head_y
    moved = move_handle(LM, HandleKey(Side.LEFT, "radius"), 300 + 40, 200)
    assert moved.left.head_r == pytest.approx(40) and moved.left.head == LM.left.head
    assert move_handle(LM, HandleKey(Side.LEFT, "radius"), 300, 200).left.head_r == 1.0  # never zero


def test_nudges():
    k = HandleKey(Side.LEFT, "rim")
    assert nudge_handle(LM, k, 1, 0).left.rim == (331, 170)
    assert nudge_handle(LM, k, 0, -10).left.rim == (330, 160)
    grown = nudge_handle(LM, HandleKey(Side.LEFT, "radius"), 1, 1)  # outward on the lateral-caudal outline
    assert grown.left.head_r == pytest.approx(30 + math.sqrt(2))


def test_circle_fit_replaces_the_nearest_head():
    pts = [(100 + 33 * math.cos(a), 207 + 33 * math.sin(a)) for a in (0.5, 2.0, 4.0)]
    after, side = apply_circle_fit(LM, fit_circle(pts))
    assert side is Side.RIGHT
    assert (after.right.head_x, after.right.head_y, after.right.head_r) == pytest.approx((100, 207, 33))
    assert after.right.rim == LM.right.rim and after.left == LM.left


@pytest.mark.parametrize("right_on_left", [True, False])
def test_default_placement_reads_105_and_follows_the_mapping(right_on_left):
    lm = default_landmarks(1000, 800, SideMapping(right_on_left))
    assert lm.norberg_angle("left") == pytest.approx(105.0)
    assert lm.norberg_angle("right") == pytest.approx(105.0)
    assert (lm.right.head_x < lm.left.head_x) == right_on_left
    for s in (lm.left, lm.right):
        assert 0 < s.head_x < 1000 and 0 < s.rim_y < s.head_y < 800  # rim cranial of the head


def test_handle_keys():
    assert len(set(ALL_HANDLES)) == 6
    assert HandleKey("right", "head").name == "Right femoral head centre"
    with pytest.raises(ValueError, match="part must be one of"):
        HandleKey("left", "elbow")
