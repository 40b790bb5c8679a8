"""Clinic styles: another unit's look, shifted consistently, the same dogs, the landmarks exact, and the
default phantoms untouched."""

from __future__ import annotations

import hashlib
import json
import math

import cv2
import numpy as np
import pytest

from hipvision.core.landmarks import Side
from hipvision.phantom import PhantomConfig, derived_seed, render_phantom
from hipvision.phantom.exposure import expose, sample_exposure
from hipvision.phantom.style import STYLES, ClinicStyle, Detector, Finish, Positioning

SIZE = 320
SEEDS = range(8)
CLINIC = PhantomConfig(size=SIZE, style="clinic-b")


@pytest.fixture(scope="module")
def pairs():
    """(default, clinic-b) phantoms of the same seeds."""
    return [(render_phantom(s, PhantomConfig(size=SIZE)), render_phantom(s, CLINIC)) for s in SEEDS]


def _unit(case) -> np.ndarray:
    return case.pixels.astype(np.float64) / 65535.0


@pytest.mark.parametrize("style", ["clinic-z", "", "Clinic-B", 3, None])
def test_unknown_style_is_refused_naming_the_valid_ones(style):
    with pytest.raises(ValueError) as err:
        PhantomConfig(style=style)
    for word in ("style", repr(style), "default", "clinic-b"):
        assert word in str(err.value)


def _positioning(**kw):
    base = dict(cassette_mm=(350.0, 430.0), head_radius_mm=(12.0, 15.0), tilt_deg=(-5.0, 5.0), roll=(0.0, 0.1),
                hips_y=(0.6, 0.7), shift_x=(0.0, 0.05))
    return Positioning(**{**base, **kw})


def _detector(**kw):
    base = dict(exposure=(("scatter", 0.0, 0.1),), grain_px=(1.0, 2.0), grid_period_px=(3.0, 3.5),
                grid_depth=(0.05, 0.06), usm_amount=(1.0, 1.2), usm_radius=(0.3, 0.4), tone_centre=(0.6, 0.7),
                tone_slope=(6.0, 7.0))
    return Detector(**{**base, **kw})


@pytest.mark.parametrize("make, words", [
    (lambda: _positioning(hips_y=(0.8, 0.6)), ("Positioning.hips_y", "0.8")),
    (lambda: _positioning(cassette_mm=(240.0, 430.0)), ("Positioning.cassette_mm", "430")),
    (lambda: _positioning(tilt_deg=5.0), ("Positioning.tilt_deg", "5.0")),
    (lambda: _detector(grid_period_px=(1.0, 3.0)), ("Detector.grid_period_px", "1.0")),
    (lambda: _detector(tone_slope=(6.0, float("nan"))), ("Detector.tone_slope", "nan")),
    (lambda: _detector(black=0.5, white=0.4), ("Detector.black/white", "0.4")),
    (lambda: _detector(exposure=(("scatter", 0.2),)), ("Detector.exposure", "scatter")),
    (lambda: Finish(border=(0.0, 0.5), border_tilt_deg=(0.0, 1.0)), ("Finish.border", "0.5")),
    (lambda: Finish(border=(0.0, 0.1), border_tilt_deg=(0.0, 1.0), marker_font="comic"), ("marker_font", "comic")),
    (lambda: ClinicStyle("Clinic C", "x"), ("ClinicStyle.name", "Clinic C")),
    (lambda: ClinicStyle("clinic-c", "x", detector=_positioning()), ("ClinicStyle.detector", "Positioning")),
])
def test_style_parts_validate_themselves(make, words):
    with pytest.raises(ValueError) as err:
        make()
    for w in words:
        assert w in str(err.value)


def test_unknown_exposure_names_are_refused_when_drawn():
    style = ClinicStyle("clinic-c", "a typo", detector=_detector(exposure=(("scater", 0.0, 0.1),)))
    with pytest.raises(ValueError, match="scater"):
        style.sample(0, 1.0)


# Digests of phantoms rendered by the code before styles existed: default and wide phantoms unchanged.
PINNED = [
    (123, {"size": 256}, "286c102236da798c"),
    (123, {"size": 256, "wide_fraction": 1.0}, "6a944e909a6da499"),
    (7, {"size": 300, "randomise": 0.0, "bit_depth": 8}, "d8d06baf4f953a7c"),
    (31, {"size": 320, "wide_fraction": 1.0, "flip_fraction": 1.0}, "8934d52b8ff0ab2a"),
]


@pytest.mark.parametrize("seed, kwargs, digest", PINNED)
def test_the_default_style_renders_what_it_always_did(seed, kwargs, digest):
    for config in (PhantomConfig(**kwargs), PhantomConfig(**kwargs, style="default")):
        case = render_phantom(seed, config)
        assert hashlib.sha256(case.pixels.tobytes()).hexdigest()[:16] == digest
        assert case.params["style"] == {"name": "default"}


def test_clinic_b_is_the_same_dog_with_exact_landmarks(pairs):
    wide = [(render_phantom(s, PhantomConfig(size=SIZE)), render_phantom(s, PhantomConfig(
        size=SIZE, style="clinic-b", wide_fraction=1.0, flip_fraction=0.5))) for s in range(8, 14)]
    for default, clinic in pairs + wide:
        assert clinic.target_na == default.target_na  # the seed's dog, another clinic
        h, w = clinic.pixels.shape
        for side in Side:
            s = clinic.landmarks.side(side)
            assert abs(clinic.landmarks.norberg_angle(side) - clinic.target_na[side.value]) < 1e-6
            assert s.head_r <= s.head_x <= w - 1 - s.head_r and s.head_r <= s.head_y <= h - 1 - s.head_r
    assert any(c.params["wide"] for _, c in wide) and not any(c.params["wide"] for _, c in pairs)


def test_clinic_b_is_deterministic_and_records_its_draws():
    a, b, other = render_phantom(21, CLINIC), render_phantom(21, CLINIC), render_phantom(22, CLINIC)
    assert np.array_equal(a.pixels, b.pixels) and a.params == b.params and a.landmarks == b.landmarks
    assert a.landmarks != other.landmarks and a.params["style"] != other.params["style"]
    look = a.params["style"]
    assert look["name"] == "clinic-b" and {"positioning", "exposure", "detector", "finish"} <= set(look)
    assert a.params["exposure"]["psf_sigma"] == look["exposure"]["psf_sigma"]  # the style's draw was used
    json.dumps(a.params["style"])  # provenance that can be written out
    # randomise 0: the clinic's canonical look, every range at its middle
    canon = render_phantom(21, PhantomConfig(size=SIZE, style="clinic-b", randomise=0.0)).params["style"]
    lo, hi = STYLES["clinic-b"].positioning.tilt_deg
    assert canon["positioning"]["tilt_deg"] == pytest.approx((lo + hi) / 2)


def test_clinic_b_has_one_cassette_large_breeds_and_its_own_positioning(pairs):
    shapes = {c.pixels.shape for _, c in pairs}
    spacings = {c.spacing for _, c in pairs}
    assert shapes == {(SIZE, round(SIZE * 350 / 430))} and len(spacings) == 1  # one detector, portrait
    assert spacings.pop()[0] == pytest.approx(430 / SIZE, rel=1e-5)
    assert len({d.pixels.shape for d, _ in pairs}) > 1  # the default draws aspect and orientation
    head_mm = [c.landmarks.left.head_r * c.spacing[0] for _, c in pairs]
    assert all(11.5 < v < 17.0 for v in head_mm) and np.mean(head_mm) > 13.0

    def hips_centre(case):
        lm, (h, w) = case.landmarks, case.pixels.shape
        return (lm.left.head_x + lm.right.head_x) / 2 / w, (lm.left.head_y + lm.right.head_y) / 2 / h

    default_xy = np.array([hips_centre(d) for d, _ in pairs])
    clinic_xy = np.array([hips_centre(c) for _, c in pairs])
    assert clinic_xy[:, 1].mean() > default_xy[:, 1].mean() + 0.05  # framed lower
    # and off-centre to the image's right: the same seed's default is placed from the same draw
    assert (clinic_xy[:, 0] - default_xy[:, 0] > 0.02).all()
    tilts = [abs(c.params["tilt_deg"]) for _, c in pairs]
    assert max(tilts) <= 10.0 and max(tilts) > 6.0  # beyond the default's +-6 degrees


def _column_peak(case, period: float) -> float:
    """Power at the grid's frequency over the typical power nearby, averaged over the columns."""
    img = _unit(case)
    h, w = img.shape
    cols = img[int(0.15 * h):int(0.85 * h), int(0.15 * w):int(0.85 * w)]
    cols = cols - cols.mean(axis=0)
    power = (np.abs(np.fft.rfft(cols, axis=0)) ** 2).mean(axis=1)
    f = np.fft.rfftfreq(cols.shape[0])
    k = int(np.argmin(abs(f - 1 / period)))
    return float(power[k - 1:k + 2].max() / np.median(power[(f > 0.15) & (abs(f - 1 / period) > 0.03)]))


def test_clinic_b_grid_lines_are_a_peak_in_the_column_spectrum(pairs):
    for default, clinic in pairs:
        period = clinic.params["style"]["detector"]["grid_period_px"]
        assert _column_peak(clinic, period) > 10.0
        assert _column_peak(default, period) < 5.0  # the default grid, when drawn, runs the other way


def _clinic_exposure(seed: int = 0):
    look = STYLES["clinic-b"].sample(seed, 1.0)
    e = sample_exposure(np.random.default_rng(seed), 0.0)
    e.update(look["exposure"], log10_photons=5.0)  # almost noiseless: the processing alone
    return e, look["detector"]


def test_clinic_b_edge_enhancement_leaves_a_dark_halo_beside_bone():
    """A femoral-head-like sphere in a slab of soft tissue: CR unsharp masking darkens a ring just
    outside it below the soft tissue further away; the default detector does not."""
    n, r = 256, 24.0
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(xx - n / 2, yy - n / 2)
    slab = np.where(np.abs(xx - n / 2) < 0.38 * n, 0.8, 0.0)  # air at the sides: soft tissue sits mid-grey
    mu = (slab + 1.5 * np.sqrt(np.clip(1 - (d / r) ** 2, 0, 1))).astype(np.float32)
    e, detector = _clinic_exposure()
    for det in (detector, None):
        img = expose(mu.copy(), dict(e), n, r, np.random.default_rng(1), None, det)
        ring, far = img[(d > 1.1 * r) & (d < 1.5 * r)].mean(), img[(d > 3.0 * r) & (d < 3.8 * r)].mean()
        if det is not None:
            assert ring < 0.85 * far, (ring, far)
        else:
            assert abs(ring - far) < 0.03 * far, (ring, far)


def test_clinic_b_quantum_noise_is_coarser():
    """On a flat field, the clinic's noise stays correlated over several pixels (a coarse plate)."""
    flat = np.full((256, 256), 0.5, np.float32)
    e, detector = _clinic_exposure()
    e["log10_photons"] = 3.0

    def correlation(det, lag: int = 4) -> float:
        img = expose(flat.copy(), dict(e), 1024, 30.0, np.random.default_rng(2), None, det)
        res = img - img.mean(axis=0, keepdims=True)  # the grid's rows out
        res = res - res.mean(axis=1, keepdims=True)
        return float((res[:, :-lag] * res[:, lag:]).mean() / res.var())

    assert correlation(detector) > correlation({**detector, "grain_px": 0.0}) + 0.15


def test_clinic_b_black_border_burnt_in_marker_and_flat_bone(pairs):
    flipped = render_phantom(3, PhantomConfig(size=SIZE, style="clinic-b", flip_fraction=1.0))
    dark_bordered = 0
    for default, clinic in [*pairs, (None, flipped)]:
        img = _unit(clinic)
        h, w = img.shape
        marker = clinic.params["style"]["finish"]["marker"]
        x0, y0, x1, y1 = marker["box"]
        white = clinic.params["style"]["detector"]["white"]
        # the software marker: whiter than any exposed pixel, in the top border, above the patient's left hip
        mark = img[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1]
        assert mark.max() > 0.97 and (mark > white + 0.02).sum() >= 8
        assert y1 < min(clinic.landmarks.left.head_y, clinic.landmarks.right.head_y) - 3 * clinic.landmarks.left.head_r
        assert ((x0 + x1) / 2 < w / 2) == (clinic.mapping.image_side("left") == "image_left")
        # black outside the collimated field, all round
        outside = np.ones_like(img, bool)
        outside[3:-3, 3:-3] = False
        outside[max(y0 - 1, 0):y1 + 2, max(x0 - 1, 0):x1 + 2] = False
        assert (img[outside] < 0.005).mean() > 0.98
        # the tone curve's shoulder: no exposed pixel is brighter than the unit's white
        beyond = img > white + 1e-4
        beyond[max(y0, 0):y1 + 1, max(x0, 0):x1 + 1] = False
        assert not beyond.any()
        if default is not None:
            d = _unit(default)
            d_edge = np.concatenate([d[:3].ravel(), d[-3:].ravel(), d[:, :3].ravel(), d[:, -3:].ravel()])
            dark_bordered += (d_edge < 0.005).mean() > 0.98
    assert dark_bordered < len(pairs) // 2  # the default's collimation is mostly something else


def test_clinic_b_tone_darkens_soft_tissue(pairs):
    def soft(case) -> float:  # the middle of the image is mostly soft tissue
        img = _unit(case)
        h, w = img.shape
        return float(np.median(img[int(0.1 * h):int(0.9 * h), int(0.1 * w):int(0.9 * w)]))

    assert np.mean([soft(c) for _, c in pairs]) < np.mean([soft(d) for d, _ in pairs]) - 0.03


def test_cli_style_flag_writes_clinic_images_and_says_so(tmp_path, capsys):
    from hipvision.cli import main

    out = tmp_path / "clinic"
    assert main(["phantom", str(out), "-n", "2", "--size", "160", "--seed", "4", "--style", "clinic-b",
                 "--quiet"]) == 0
    info = json.loads((out / "annotations.json").read_text())["info"]
    assert "clinic-b" in info["description"]
    for i in range(2):
        png = cv2.imread(str(out / f"phantom_{i:04d}.png"), cv2.IMREAD_UNCHANGED)
        expected = render_phantom(derived_seed(4, i), PhantomConfig(size=160, style="clinic-b"))
        assert np.array_equal(png, expected.pixels)
    plain = tmp_path / "plain"
    assert main(["phantom", str(plain), "-n", "1", "--size", "160", "--quiet"]) == 0
    assert "style" not in json.loads((plain / "annotations.json").read_text())["info"]["description"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["phantom", str(tmp_path / "x"), "--style", "clinic-z"])
    err = capsys.readouterr().err
    assert "clinic-z" in err and "clinic-b" in err and "default" in err


def test_cli_help_lists_the_styles(capsys):
    from hipvision.cli import main

    with pytest.raises(SystemExit):
        main(["phantom", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for style in STYLES.values():
        assert f"{style.name}: {' '.join(style.description.split())}" in text
    assert math.isfinite(len(text))


def test_clinic_c_lays_dogs_diagonally_past_the_default_tilt_with_exact_landmarks():
    """clinic-c, the simulated clinic of `bench retrain`: tilts the default phantoms never reach."""
    for seed in range(6):
        default = render_phantom(seed, PhantomConfig(size=SIZE))
        c = render_phantom(seed, PhantomConfig(size=SIZE, style="clinic-c"))
        assert c.target_na == default.target_na
        assert 14.0 <= abs(c.params["tilt_deg"]) <= 20.0 and abs(default.params["tilt_deg"]) <= 6.0
        h, w = c.pixels.shape
        assert h == w  # one square detector
        for side in Side:
            assert abs(c.landmarks.norberg_angle(side) - c.target_na[side.value]) < 1e-6
