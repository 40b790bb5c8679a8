import math

import numpy as np
import pytest

from hipvision.core.geometry import GeometryError, angle_at, fit_circle


def independent_angle(v, a, b):
    """Law of cosines with numpy: an independent route to the same angle."""
    v, a, b = (np.array(p, dtype=np.longdouble) for p in (v, a, b))
    ab, va, vb = np.linalg.norm(a - b), np.linalg.norm(a - v), np.linalg.norm(b - v)
    cos = (va**2 + vb**2 - ab**2) / (2 * va * vb)
    return float(np.degrees(np.arccos(np.clip(cos, -1, 1))))


@pytest.mark.parametrize("a,b,expected", [
    ((1, 0), (0, 1), 90.0),
    ((1, 0), (1, 1), 45.0),
    ((1, 0), (-1, 0), 180.0),
    ((1, 0), (2, 0), 0.0),
    ((1, 0), (-1, math.sqrt(3)), 120.0),
    ((1, 0), (-1, -math.sqrt(3)), 120.0),  # unsigned: below or above the axis is the same angle
])
def test_angle_hand_computed(a, b, expected):
    assert angle_at((0, 0), a, b) == pytest.approx(expected, abs=1e-12)


def test_angle_agrees_with_independent_computation():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        v, a, b = rng.uniform(-3000, 3000, size=(3, 2))
        got = angle_at(tuple(v), tuple(a), tuple(b))
        assert abs(got - independent_angle(v, a, b)) < 1e-6


def test_angle_invariant_to_rotation_translation_scale_and_mirror():
    v, a, b = np.array([512.3, 700.1]), np.array([1400.0, 690.0]), np.array([430.0, 580.5])
    base = angle_at(tuple(v), tuple(a), tuple(b))
    rng = np.random.default_rng(1)
    for _ in range(200):
        th = rng.uniform(0, 2 * math.pi)
        rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        s, t = rng.uniform(0.01, 50), rng.uniform(-1e4, 1e4, 2)
        mirror = np.diag([-1.0, 1.0]) if rng.random() < 0.5 else np.eye(2)
        tr = lambda p: tuple(s * (mirror @ rot @ p) + t)  # noqa: E731, B023 (used in this iteration only)
        assert angle_at(tr(v), tr(a), tr(b)) == pytest.approx(base, abs=1e-9)


def test_angle_degenerate_raises():
    with pytest.raises(GeometryError, match="zero length"):
        angle_at((1, 1), (1, 1), (2, 2))


def circle_points(cx, cy, r, n, start=0.0, span=2 * math.pi, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = start + np.linspace(0, span, n, endpoint=False)
    pts = np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])
    return pts + rng.normal(0, noise, pts.shape)


def test_circle_exact_three_points():
    fit = fit_circle([(0, 10), (10, 0), (-10, 0)])
    assert (fit.cx, fit.cy, fit.r) == pytest.approx((0, 0, 10), abs=1e-9)
    assert fit.rms_residual < 1e-9 and fit.n_points == 3


def test_circle_partial_arc_large_coordinates():
    # A head outline clicked over a third of its circumference, far from the origin.
    pts = circle_points(3811.7, 2950.2, 142.5, 7, start=0.3, span=2.1)
    fit = fit_circle(pts)
    assert (fit.cx, fit.cy, fit.r) == pytest.approx((3811.7, 2950.2, 142.5), abs=1e-6)


def test_circle_noisy_residual_reported():
    pts = circle_points(100, 200, 50, 40, noise=0.5, seed=3)
    fit = fit_circle(pts)
    assert abs(fit.r - 50) < 0.3 and math.hypot(fit.cx - 100, fit.cy - 200) < 0.3
    assert 0.3 < fit.rms_residual < 0.7  # close to the 0.5 px noise we added
    assert fit.max_residual >= fit.rms_residual


def test_circle_geometric_refinement_beats_algebraic_bias():
    # Kasa's algebraic fit underestimates r on short noisy arcs; the refined fit must be
    # closer to the truth than a plain Kasa fit would be.
    pts = circle_points(0, 0, 100, 12, start=0, span=1.2, noise=1.0, seed=7)
    fit = fit_circle(pts)
    a = np.column_stack([pts[:, 0], pts[:, 1], np.ones(len(pts))])
    d, e, f = np.linalg.lstsq(a, -(pts**2).sum(1), rcond=None)[0]
    kasa_r = math.sqrt(d * d / 4 + e * e / 4 - f)
    refined_rms = np.sqrt(np.mean((np.hypot(pts[:, 0] - fit.cx, pts[:, 1] - fit.cy) - fit.r) ** 2))
    kasa_rms = np.sqrt(np.mean((np.hypot(pts[:, 0] + d / 2, pts[:, 1] + e / 2) - kasa_r) ** 2))
    assert refined_rms <= kasa_rms + 1e-12


@pytest.mark.parametrize("pts,msg", [
    ([(1, 1), (2, 2)], "at least 3"),
    ([(5, 5), (5, 5), (5, 5)], "coincide"),
    ([(0, 0), (1, 1), (2, 2), (3, 3)], "collinear"),
    ([(0, 0), (0, 0), (1, 0)], "collinear"),
    ([(0, 0), (1, float("nan")), (1, 0)], "non-finite"),
])
def test_circle_degenerate_input_errors(pts, msg):
    with pytest.raises(GeometryError, match=msg):
        fit_circle(pts)


def test_head_clicks_orders_image_left_first_and_refuses_one_spot_or_junk():
    from hipvision.core.geometry import GeometryError, head_clicks

    assert head_clicks([(300, 10), (100.5, 12)]) == ((100.5, 12.0), (300.0, 10.0))
    for bad in ([(1, 1), (1.5, 1)], [(1, float("nan")), (50, 1)], [(1, 2)], "xy", None):
        with pytest.raises(GeometryError):
            head_clicks(bad)
