"""Clinic styles: a named look of one X-ray unit, its room and its patients, for domain-shift tests.

The default phantoms are randomised widely, but every image comes from the same ranges. Another
clinic's images differ *consistently*: one detector with its own processing, one technician's
positioning habits, one patient population. A `ClinicStyle` fixes such a look with narrow ranges
that sit away from the default ones, so that few-shot fine-tuning ("correct six of your images,
retrain") can be measured on images the bundled model never saw.

The style's draws come from their own stream, `[seed, STYLE_STREAM]`: the default stream, and with
it every default phantom, is untouched, and a seed is the same dog (NA, hips, anatomy) in every
style. Nothing here moves a landmark: pose changes go through the similarity `Frame`, which keeps
angles, and the rest happens to pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Pure Python on purpose: the CLI lists the styles in its help, and `hipvision --help` must not
# pay for numpy and OpenCV. numpy is imported where the draws are made.
STYLE_STREAM = 0xC11B  # second seed word of the style's random stream
FONTS = ("simplex", "duplex", "complex", "plain")  # cv2.FONT_HERSHEY_* for the burnt-in marker

Range = tuple[float, float]


def _range(owner: str, name: str, value, lo: float, hi: float) -> Range:
    """A (low, high) pair of finite numbers inside [lo, hi], low <= high."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}.{name} must be (low, high), got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a <= b <= hi):
        raise ValueError(f"{owner}.{name} must be low <= high within [{lo}, {hi}], got {value!r}")
    return a, b


def _check(obj, limits: dict[str, tuple[float, float]]) -> None:
    """Validate and normalise (to float pairs) the Range fields named in `limits`."""
    owner = type(obj).__name__
    for name, (lo, hi) in limits.items():
        object.__setattr__(obj, name, _range(owner, name, getattr(obj, name), lo, hi))


def _draw(rng: np.random.Generator, r: Range, randomise: float) -> float:
    """Uniform in r, pulled towards its middle as `randomise` goes to 0 (the canonical look)."""
    mid = 0.5 * (r[0] + r[1])
    return float(mid + randomise * (rng.uniform(*r) - mid))


@dataclass(frozen=True)
class Positioning:
    """The room, the technician and the patients."""

    cassette_mm: Range  # (short, long) side of the one cassette size in use: fixed aspect, portrait
    head_radius_mm: Range  # the patient population (femoral-head radius)
    tilt_deg: Range  # in-plane rotation of the pelvis
    roll: Range  # pelvic rotation about the long axis: midline shift, head radii
    hips_y: Range  # height of the hips in a pelvis view, share of the image height
    shift_x: Range  # the pelvis off-centre, share of the image width (positive: to the image's right)

    def __post_init__(self) -> None:
        _check(self, {"cassette_mm": (100.0, 1000.0), "head_radius_mm": (3.0, 20.0), "tilt_deg": (-20.0, 20.0),
                      "roll": (-1.5, 1.5), "hips_y": (0.3, 0.9), "shift_x": (-0.3, 0.3)})
        short_mm, long_mm = self.cassette_mm
        if long_mm > 1.3 * short_mm:  # the renderer's images are 1.0-1.3 long/short
            raise ValueError(f"Positioning.cassette_mm must have long <= 1.3 x short, got {self.cassette_mm!r}")

    def sample(self, rng: np.random.Generator, randomise: float) -> dict:
        short_mm, long_mm = self.cassette_mm
        return {"cassette_mm": [short_mm, long_mm], "aspect": long_mm / short_mm,
                **{name: _draw(rng, getattr(self, name), randomise)
                   for name in ("head_radius_mm", "tilt_deg", "roll", "hips_y", "shift_x")}}


@dataclass(frozen=True)
class Detector:
    """The X-ray unit: exposure technique, grid, detector and its image processing."""

    exposure: tuple[tuple[str, float, float], ...]  # (name, low, high) replacing exposure.RANGES draws
    grain_px: Range  # correlation length of the quantum noise (a coarse phosphor plate)
    grid_period_px: Range  # stationary anti-scatter grid: line period on the detector, px
    grid_depth: Range  # share of the signal the grid's lead strips take away
    usm_amount: Range  # unsharp-mask gain (CR edge enhancement: a halo at every bone edge)
    usm_radius: Range  # its kernel, head radii
    tone_centre: Range  # logistic tone curve: toe darkens soft tissue, shoulder flattens bone
    tone_slope: Range
    black: float = 0.0  # output of the darkest exposed pixel
    white: float = 1.0  # output of the brightest bone (a shoulder below 1 flattens it further)

    def __post_init__(self) -> None:
        if not isinstance(self.exposure, (tuple, list)):
            raise ValueError(f"Detector.exposure must be a tuple of (name, low, high), got {self.exposure!r}")
        object.__setattr__(self, "exposure", tuple(tuple(item) for item in self.exposure))
        for item in self.exposure:
            # The names are checked against exposure.RANGES when drawn (that module needs OpenCV).
            if len(item) != 3 or not isinstance(item[0], str):
                raise ValueError(f"Detector.exposure entries must be (name, low, high), got {item!r}")
            _range("Detector", f"exposure[{item[0]}]", item[1:], -1e6, 1e6)
        _check(self, {"grain_px": (0.0, 8.0), "grid_period_px": (2.05, 64.0), "grid_depth": (0.0, 0.5),
                      "usm_amount": (0.0, 5.0), "usm_radius": (0.02, 3.0), "tone_centre": (0.05, 0.95),
                      "tone_slope": (0.5, 30.0)})
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (self.black, self.white))
        if not numbers or not 0.0 <= self.black < self.white <= 1.0:
            raise ValueError(f"Detector.black/white must satisfy 0 <= black < white <= 1, "
                             f"got {self.black!r}, {self.white!r}")

    def sample(self, rng: np.random.Generator, randomise: float) -> tuple[dict, dict]:
        """(exposure overrides, processing draws)."""
        from hipvision.phantom.exposure import RANGES

        unknown = sorted({name for name, _, _ in self.exposure} - set(RANGES))
        if unknown:
            raise ValueError(f"Detector.exposure names {unknown} are not exposure draws; valid: {sorted(RANGES)}")
        overrides = {name: _draw(rng, (lo, hi), randomise) for name, lo, hi in self.exposure}
        # This unit's own grid and processing replace the default ones.
        overrides.update(grid_lines=False, sharpen=0.0, gamma=1.0)
        draws = {name: _draw(rng, getattr(self, name), randomise)
                 for name in ("grain_px", "grid_period_px", "grid_depth", "usm_amount", "usm_radius",
                              "tone_centre", "tone_slope")}
        draws.update(grid_phase=float(rng.uniform(0.0, 2 * math.pi)), black=self.black, white=self.white)
        return overrides, draws


@dataclass(frozen=True)
class Finish:
    """What the unit's software burns in: a black mask outside the collimated field and a marker."""

    border: Range  # collimated margin on each side, share of that side
    border_tilt_deg: Range  # the collimator's rotation
    marker_font: str = "duplex"
    marker_height: float = 0.035  # share of the image height
    caption: str = "VD"  # text beside the side letter

    def __post_init__(self) -> None:
        _check(self, {"border": (0.0, 0.3), "border_tilt_deg": (-5.0, 5.0)})
        if self.marker_font not in FONTS:
            raise ValueError(f"Finish.marker_font must be one of {sorted(FONTS)}, got {self.marker_font!r}")
        if isinstance(self.marker_height, bool) or not isinstance(self.marker_height, (int, float)) \
                or not 0.005 <= self.marker_height <= 0.2:
            raise ValueError(f"Finish.marker_height must be in [0.005, 0.2], got {self.marker_height!r}")
        if not isinstance(self.caption, str) or len(self.caption) > 12:
            raise ValueError(f"Finish.caption must be a short text (at most 12 characters), got {self.caption!r}")

    def sample(self, rng: np.random.Generator, randomise: float) -> dict:
        return {"margins": [_draw(rng, self.border, randomise) for _ in range(4)],  # left, top, right, bottom
                "tilt_deg": _draw(rng, self.border_tilt_deg, randomise), "font": self.marker_font,
                "marker_height": self.marker_height, "caption": self.caption}


@dataclass(frozen=True)
class ClinicStyle:
    """A named look; a part left None keeps the default phantom's draws for it."""

    name: str
    description: str
    positioning: Positioning | None = None
    detector: Detector | None = None
    finish: Finish | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip().lower():
            raise ValueError(f"ClinicStyle.name must be a non-empty lower-case name, got {self.name!r}")
        if not isinstance(self.description, str) or not self.description:
            raise ValueError(f"ClinicStyle.description must be a non-empty text, got {self.description!r}")
        for part, kind in (("positioning", Positioning), ("detector", Detector), ("finish", Finish)):
            value = getattr(self, part)
            if value is not None and not isinstance(value, kind):
                raise ValueError(f"ClinicStyle.{part} must be a {kind.__name__} or None, got {value!r}")

    def sample(self, seed: int, randomise: float) -> dict:
        """The style's draws for image `seed`, from the style's own stream (JSON-friendly)."""
        import numpy as np

        rng = np.random.default_rng([int(seed), STYLE_STREAM])
        out: dict = {"name": self.name}
        if self.positioning is not None:
            out["positioning"] = self.positioning.sample(rng, randomise)
        if self.detector is not None:
            out["exposure"], out["detector"] = self.detector.sample(rng, randomise)
        if self.finish is not None:
            out["finish"] = self.finish.sample(rng, randomise)
        return out


STYLES: dict[str, ClinicStyle] = {s.name: s for s in (
    ClinicStyle("default", "the bundled phantoms: every look randomised over wide ranges"),
    ClinicStyle(
        "clinic-b",
        "a CR unit with strong edge enhancement and a stationary grid, tight black-masked collimation, "
        "a burnt-in side marker, 35x43 cm cassettes, mostly large breeds positioned low and off-centre",
        Positioning(cassette_mm=(350.0, 430.0), head_radius_mm=(12.5, 16.0), tilt_deg=(-10.0, 10.0),
                    roll=(-0.8, 0.8), hips_y=(0.62, 0.74), shift_x=(0.03, 0.09)),
        Detector(
            # A grid takes most scatter away, large dogs attenuate more, CR plates are noisy and blurred;
            # the tube's anode sits the same way in this room every day (heel angle).
            exposure=(("log10_photons", 2.9, 3.2), ("psf_sigma", 1.5, 1.9), ("scatter", 0.02, 0.06),
                      ("attenuation", 1.15, 1.3), ("heel", 0.08, 0.14), ("heel_angle", 260.0, 280.0),
                      ("equalise", 0.1, 0.2), ("low_clip", 0.01, 0.02), ("high_clip", 0.002, 0.004)),
            grain_px=(1.6, 2.2), grid_period_px=(3.1, 3.5), grid_depth=(0.05, 0.07),
            usm_amount=(1.0, 1.4), usm_radius=(0.3, 0.4), tone_centre=(0.62, 0.68), tone_slope=(6.5, 8.0),
            black=0.02, white=0.9),
        Finish(border=(0.035, 0.08), border_tilt_deg=(-1.0, 1.0), marker_font="duplex", caption="VD"),
    ),
    ClinicStyle(
        "clinic-c",
        "a DR unit run at low dose without a grid, soft processing, giant breeds laid diagonally on a square "
        "detector and rolled to one side, tight collimation",
        # The technician lays big dogs diagonally to fit the pelvis and both stifles: a tilt past
        # the default's range, and pelvic roll one way (a common VD positioning fault).
        Positioning(cassette_mm=(430.0, 430.0), head_radius_mm=(14.0, 18.0), tilt_deg=(14.0, 20.0),
                    roll=(0.6, 1.1), hips_y=(0.5, 0.6), shift_x=(-0.08, -0.03)),
        Detector(
            exposure=(("log10_photons", 2.6, 2.8), ("psf_sigma", 1.0, 1.3), ("scatter", 0.15, 0.25),
                      ("attenuation", 1.3, 1.45), ("heel", 0.02, 0.05), ("heel_angle", 80.0, 100.0),
                      ("equalise", 0.3, 0.45), ("low_clip", 0.0, 0.01), ("high_clip", 0.0, 0.002)),
            grain_px=(0.6, 0.9), grid_period_px=(8.0, 9.0), grid_depth=(0.0, 0.005),
            usm_amount=(0.0, 0.2), usm_radius=(0.5, 0.7), tone_centre=(0.35, 0.42), tone_slope=(3.0, 4.0),
            black=0.08, white=0.82),
        Finish(border=(0.02, 0.05), border_tilt_deg=(-3.0, 3.0), marker_font="plain", caption="DR VD"),
    ),
)}


def style_names() -> str:
    return ", ".join(STYLES)
