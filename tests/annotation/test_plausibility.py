import pytest

from hipvision.annotation.landmark_edit import default_landmarks
from hipvision.annotation.plausibility import LOW_CONFIDENCE, PlausibilityLimits, assess
from hipvision.core.landmarks import HipLandmarks, SideLandmarks

# A plausible pair: heads 200 px apart, radius 30 px, NA ~ 100-110°.
GOOD = HipLandmarks(left=SideLandmarks(400, 300, 30, 420, 270), right=SideLandmarks(200, 300, 30, 180, 270))
SIZE = (640, 480)


def codes(a):
    return {c.code for c in a.concerns}


def test_a_plausible_hip_pair_has_no_concern():
    a = assess(GOOD, SIZE, {"left.head": 0.9, "left.rim": 0.8, "right.head": 0.95, "right.rim": 0.7})
    assert not a.doubtful and a.summary() == ""
    assert not assess(default_landmarks(1024, 1024), (1024, 1024)).doubtful


def test_low_confidence_names_the_landmarks():
    a = assess(GOOD, SIZE, {"left.head": 0.0, "left.rim": 0.49, "right.head": 0.5, "right.rim": 0.9})
    assert codes(a) == {"low_confidence"} and a.low_confidence == ("left.head", "left.rim")
    assert "left.rim" in a.summary()


def test_impossible_na_is_flagged():
    # The rim straight towards the other head: NA ~ 15°, as a failed real-image prediction gave.
    lm = HipLandmarks(left=SideLandmarks(400, 300, 30, 360, 290), right=GOOD.right)
    assert lm.norberg_angle("left") < 40
    a = assess(lm, SIZE)
    assert codes(a) == {"na_range"} and "left NA" in a.summary()


def test_overlapping_heads_are_flagged():
    lm = HipLandmarks(left=SideLandmarks(230, 300, 30, 250, 270), right=GOOD.right)
    assert "heads_overlap" in codes(assess(lm, SIZE))


def test_radius_implausible_for_the_image_and_the_head_distance():
    tiny = HipLandmarks(left=SideLandmarks(400, 300, 1.5, 402, 298.5), right=SideLandmarks(200, 300, 1.5, 198, 298.5))
    a = assess(tiny, SIZE)
    assert {"radius_image", "radius_distance"} <= codes(a)
    odd = HipLandmarks(left=SideLandmarks(400, 300, 60, 440, 250), right=GOOD.right)
    assert "radius_mismatch" in codes(assess(odd, SIZE))


def test_limits_validate_and_mirror_the_predictor():
    with pytest.raises(ValueError, match="na_min"):
        PlausibilityLimits(na_min=150)
    predict = pytest.importorskip("hipvision.ml.predict")
    assert LOW_CONFIDENCE == predict.LOW_CONFIDENCE


def test_heads_a_few_pixels_across_are_flagged_with_what_a_pixel_costs():
    # A toy dog on a downscaled whole-body export: 6-px heads 55 px apart, otherwise plausible.
    small = HipLandmarks(left=SideLandmarks(155, 300, 6, 159, 294), right=SideLandmarks(100, 300, 6, 96, 294))
    a = assess(small, (400, 400))
    assert codes(a) == {"small_heads"}
    assert "6 px" in a.summary() and "~10°" in a.summary()  # 57.3° / 6 px
    # The same film at full resolution (heads 4x larger) is fine.
    big = HipLandmarks(left=SideLandmarks(620, 1200, 24, 636, 1176), right=SideLandmarks(400, 1200, 24, 384, 1176))
    assert not assess(big, (1600, 1600)).doubtful
    # A radius that does not fit the head distance is a misprediction, not a small film.
    wrong = HipLandmarks(left=SideLandmarks(400, 300, 4, 404, 296), right=SideLandmarks(170, 300, 4, 166, 296))
    found = codes(assess(wrong, (700, 1000)))
    assert "radius_distance" in found and "small_heads" not in found
