import math

import numpy as np
import pytest

from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks
from hipvision.ml.diffusion.na_sampling import (
    NADistribution,
    PlausibilityLimits,
    draw_hip_conditions,
    draw_pair_conditions,
    retarget_na,
    rotation_needed,
)

LM = HipLandmarks(left=SideLandmarks(700.0, 510.0, 60.0, 735.0, 445.0),
                  right=SideLandmarks(300.0, 500.0, 62.0, 262.0, 437.0))


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("target", [62.0, 88.5, 101.0, 117.25, 130.0])
def test_retarget_hits_the_target_exactly_and_keeps_the_hip(side, target):
    out = retarget_na(LM, side, target)
    assert out.norberg_angle(side) == pytest.approx(target, abs=1e-9)
    a, b = LM.side(side), out.side(side)
    assert (b.head_x, b.head_y, b.head_r) == (a.head_x, a.head_y, a.head_r)  # only the rim moves
    assert math.dist(b.head, b.rim) == pytest.approx(math.dist(a.head, a.rim), rel=1e-12)
    assert out.side(side.other) == LM.side(side.other)
    # the rim stays on its side of the head-head line (cranial here: y smaller than the line)
    other = LM.side(side.other).head
    cross = lambda p: (other[0] - a.head_x) * (p[1] - a.head_y) - (other[1] - a.head_y) * (p[0] - a.head_x)  # noqa: E731
    assert np.sign(cross(b.rim)) == np.sign(cross(a.rim))


def test_rotation_needed_is_the_na_difference():
    na = LM.norberg_angle("left")
    assert abs(rotation_needed(LM, "left", na + 10)) == pytest.approx(10, abs=1e-9)
    assert rotation_needed(LM, "left", na) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("spec,kind,a,b", [("uniform:75:115", "uniform", 75, 115), ("normal:95:8", "normal", 95, 8),
                                            ("data", "data", 0, 0), (" Uniform:80:80 ", "uniform", 80, 80)])
def test_parse(spec, kind, a, b):
    d = NADistribution.parse(spec)
    assert (d.kind, d.a, d.b) == (kind, a, b)


@pytest.mark.parametrize("spec", ["uniform:115:75", "gauss:1:2", "uniform:a:b", "normal:95", "uniform:0:90"])
def test_parse_rejects_nonsense_with_the_spec_in_the_message(spec):
    with pytest.raises(ValueError, match="na distribution"):
        NADistribution.parse(spec)


def test_implausible_range_is_refused():
    with pytest.raises(ValueError, match="plausible"):
        NADistribution.parse("uniform:30:90").check(PlausibilityLimits())


def _bank(n=20, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lm = LM
        for s in Side:
            lm = retarget_na(lm, s, float(rng.uniform(90, 115)))
        out.append(lm)
    return out


def test_draw_conditions_follow_the_requested_distribution():
    bank = _bank()
    rng = np.random.default_rng(1)
    pairs = draw_pair_conditions(bank, 200, NADistribution.parse("uniform:75:95"), rng)
    nas = np.array([[c.landmarks.norberg_angle(s) for s in Side] for c in pairs])
    assert nas.min() >= 75 - 1e-9 and nas.max() <= 95 + 1e-9
    assert abs(nas.mean() - 85) < 1.5  # uniform: mean 85, sd of the mean ~0.4
    for c in pairs:
        assert c.targets == pytest.approx((c.landmarks.norberg_angle("left"), c.landmarks.norberg_angle("right")))
        # each came from its bank entry by rim rotations within the limit
        for s in Side:
            assert abs(rotation_needed(bank[c.source], s, c.landmarks.norberg_angle(s))) <= 30 + 1e-9
    hips = draw_hip_conditions(bank, 50, NADistribution.parse("normal:100:5"), rng)
    assert all(50 <= c.targets[0] <= 135 for c in hips)
    kept = draw_hip_conditions(bank, 5, NADistribution.parse("data"), rng)
    assert all(c.landmarks in bank for c in kept)


def test_unreachable_target_is_explained():
    bank = _bank(3)
    with pytest.raises(ValueError, match="within 5 deg"):
        draw_hip_conditions(bank, 1, NADistribution.parse("uniform:60:61"), np.random.default_rng(0),
                            PlausibilityLimits(max_rotation_deg=5))
