import pytest

from hipvision.annotation.overlay_geometry import build_overlay
from hipvision.core.grading import GRADE_COLOURS, Grade, GradeThresholds, bva_points
from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks, SideMapping

LM = HipLandmarks(left=SideLandmarks(300, 200, 30, 290, 170), right=SideLandmarks(100, 205, 28, 75, 172))


def test_sides_in_image_order_with_the_core_angles():
    ov = build_overlay(LM, SideMapping(right_on_image_left=True), "user")
    assert [s.side for s in ov.sides] == [Side.RIGHT, Side.LEFT]
    assert [s.image_side for s in ov.sides] == ["image_left", "image_right"]
    for s in ov.sides:
        na = LM.norberg_angle(s.side)
        assert s.na == na
        assert abs(s.signed_span_deg) == pytest.approx(na)
        assert s.label == f"{s.letter} {na:.1f}°"
    assert [s.side for s in build_overlay(LM, SideMapping(False)).sides] == [Side.LEFT, Side.RIGHT]


def test_grade_colour_follows_the_thresholds_and_points_their_own_rule():
    ov = build_overlay(LM, SideMapping())
    left = ov.side("left")
    assert left.grade is Grade.SUSPECT and left.grade_colour == GRADE_COLOURS[Grade.SUSPECT]
    assert left.bva == bva_points(LM.norberg_angle("left")) > 0
    lenient = build_overlay(LM, SideMapping(), thresholds=GradeThresholds(normal_min=60, borderline_min=50))
    # The grade hint is a preference; the BVA-style points are not and stay what they were.
    assert lenient.side("left").grade is Grade.NORMAL and lenient.side("left").bva == left.bva


@pytest.mark.parametrize("kind", ["unplaced", "flagged"])
def test_unplaced_defaults_and_doubtful_predictions_carry_no_grade_and_no_points(kind):
    ov = build_overlay(LM, SideMapping(), kind)
    assert not ov.graded
    for s in ov.sides:
        assert s.na is not None and s.grade is None and s.bva is None
        assert s.grade_colour not in GRADE_COLOURS.values()
    assert build_overlay(LM, SideMapping(), "model").graded


def test_undefined_angle_does_not_break_the_overlay():
    lm = HipLandmarks(left=SideLandmarks(300, 200, 30, 300, 200), right=LM.right)
    s = build_overlay(lm, SideMapping()).side("left")
    assert s.na is None and s.grade is None and s.label == "L –"
