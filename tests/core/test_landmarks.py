import math

import numpy as np
import pytest

from hipvision.core.geometry import GeometryError
from hipvision.core.grading import Grade, GradeThresholds, bva_points, grade_hint, shown_na
from hipvision.core.landmarks import HipLandmarks, LandmarkError, Side, SideLandmarks, SideMapping
from hipvision.core.units import distance_mm, length_mm


def make(na_right=None):
    # Patient right on the image's left (the VD convention). Heads 400 px apart on y=500.
    right = SideLandmarks(300.0, 500.0, 60.0, 250.0, 450.0)
    left = SideLandmarks(700.0, 500.0, 60.0, 750.0, 450.0)
    return HipLandmarks(left=left, right=right)


def test_hand_computed_na():
    lm = make()
    # Right head at (300,500): other head is straight +x; rim is at (-50,-50) -> 135 degrees.
    assert lm.norberg_angle(Side.RIGHT) == pytest.approx(135.0, abs=1e-12)
    assert lm.norberg_angle("left") == pytest.approx(135.0, abs=1e-12)
    # Rim straight cranial of the head (up the image): exactly 90 degrees.
    lm2 = lm.with_side(Side.RIGHT, SideLandmarks(300, 500, 60, 300, 400))
    assert lm2.norberg_angle(Side.RIGHT) == pytest.approx(90.0, abs=1e-12)
    # Rim at 105 degrees: cos/sin by hand.
    t = math.radians(105)
    rim = (300 + 100 * math.cos(t), 500 - 100 * math.sin(t))
    lm3 = lm.with_side(Side.RIGHT, SideLandmarks(300, 500, 60, *rim))
    assert lm3.norberg_angle(Side.RIGHT) == pytest.approx(105.0, abs=1e-9)


def test_mirror_symmetry_swaps_sides():
    lm = HipLandmarks(left=SideLandmarks(710.0, 498.0, 61.0, 770.0, 431.0),
                      right=SideLandmarks(290.0, 505.0, 58.0, 242.0, 452.0))
    width = 1000.0
    mirror = lambda s: SideLandmarks(width - s.head_x, s.head_y, s.head_r, width - s.rim_x, s.rim_y)  # noqa: E731
    mirrored = HipLandmarks(left=mirror(lm.right), right=mirror(lm.left))
    assert mirrored.norberg_angle("left") == pytest.approx(lm.norberg_angle("right"), abs=1e-9)
    assert mirrored.norberg_angle("right") == pytest.approx(lm.norberg_angle("left"), abs=1e-9)


def test_swapped_and_mapping():
    lm = make()
    assert lm.swapped().left == lm.right
    m = SideMapping()
    assert m.image_side("right") == "image_left" and m.image_side(Side.LEFT) == "image_right"
    assert m.swapped().image_side("right") == "image_right"
    a, b = m.to_image_order(lm)
    assert a == lm.right and m.from_image_order(a, b) == lm
    s = m.swapped()
    assert s.from_image_order(*s.to_image_order(lm)) == lm
    assert m.patient_side_of_image_left() is Side.RIGHT


def test_validation_names_field():
    with pytest.raises(LandmarkError, match="head_r must be > 0"):
        SideLandmarks(1, 1, 0, 2, 2)
    with pytest.raises(LandmarkError, match="rim_x must be a finite"):
        SideLandmarks(1, 1, 3, float("inf"), 2)
    with pytest.raises(LandmarkError, match="malformed"):
        HipLandmarks.from_dict({"left": {}})


def test_coincident_heads_raise_named_side():
    s = SideLandmarks(100, 100, 10, 150, 50)
    with pytest.raises(GeometryError, match="left Norberg angle"):
        HipLandmarks(left=s, right=s).norberg_angle("left")


def test_dict_round_trip_exact():
    lm = HipLandmarks(left=SideLandmarks(0.1 + 0.2, 1 / 3, 7.25, 1e-7, 12345.678901234),
                      right=SideLandmarks(1, 2, 3, 4, 5))
    assert HipLandmarks.from_dict(lm.to_dict()) == lm


@pytest.mark.parametrize("na,grade,points", [
    (120.0, Grade.NORMAL, 0), (105.0, Grade.NORMAL, 0), (104.94, Grade.BORDERLINE, 1),
    (100.0, Grade.BORDERLINE, 1), (99.94, Grade.SUSPECT, 2), (95.0, Grade.SUSPECT, 2),
    (94.9, Grade.SUSPECT, 3), (75.0, Grade.SUSPECT, 6), (60.0, Grade.SUSPECT, 6),
])
def test_grade_and_bva(na, grade, points):
    assert grade_hint(na) is grade
    assert bva_points(na) == points


@pytest.mark.parametrize("na", [104.96, 104.99, 99.96, 100.04])
def test_one_value_one_grade(na):
    """Grade and points are those of the value as shown (0.1°): 104.99 reads "105.0°", so
    it grades exactly like 105.0 — never borderline beside a "105.0°" graded normal."""
    shown = float(f"{na:.1f}")
    assert shown_na(na) == shown
    assert grade_hint(na) is grade_hint(shown) and bva_points(na) == bva_points(shown)


def test_bva_points_ignore_the_grade_thresholds():
    strict = GradeThresholds(normal_min=110, borderline_min=103)
    assert grade_hint(107, strict) is Grade.BORDERLINE
    assert bva_points(107) == 0 and bva_points(104.9) == 1  # the BVA rule: 0 at >= 105°, per started 5°


def test_thresholds_are_settings_and_validate():
    t = GradeThresholds(normal_min=110, borderline_min=103)
    assert grade_hint(107, t) is Grade.BORDERLINE and grade_hint(102, t) is Grade.SUSPECT
    with pytest.raises(ValueError, match="borderline_min"):
        GradeThresholds(normal_min=100, borderline_min=105)


def test_mm_conversion():
    assert distance_mm((0, 0), (30, 40), (0.1, 0.1)) == pytest.approx(5.0)
    # Anisotropic: spacing is (row=y, col=x).
    assert distance_mm((0, 0), (10, 0), (0.2, 0.1)) == pytest.approx(1.0)
    assert distance_mm((0, 0), (0, 10), (0.2, 0.1)) == pytest.approx(2.0)
    assert length_mm(100, (0.1, 0.1)) == pytest.approx(10.0)


def test_random_na_matches_independent_formula():
    rng = np.random.default_rng(5)
    for _ in range(500):
        v = rng.uniform(0, 4000, (4, 2))
        lm = HipLandmarks(left=SideLandmarks(*v[0], 50, *v[1]), right=SideLandmarks(*v[2], 50, *v[3]))
        u, w = v[2] - v[0], v[1] - v[0]
        ref = math.degrees(math.acos(np.clip(u @ w / np.linalg.norm(u) / np.linalg.norm(w), -1, 1)))
        assert abs(lm.norberg_angle("left") - ref) < 1e-6
