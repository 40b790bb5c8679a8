"""Phantom acquisition: position marker, collimation, exposure, blur, noise, display processing.

The physics is kept just deep enough to give the right *kind* of variation: transmitted
photons N0*exp(-mu) with a heel-effect gradient and scatter, signal-dependent quantum noise
(Gaussian approximation of Poisson) blurred by the detector's point-spread, electronic noise,
then the log transform and DR-style processing (equalisation, window, gamma). Noise is thus
larger in bone than in soft tissue, as on a real detector.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hipvision.core.landmarks import SideMapping

# (low, high, canonical); photon count is drawn on a log scale.
RANGES = {
    "log10_photons": (2.6, 4.2, 3.3),
    "electronic_noise": (0.0, 0.002, 0.0005),  # fraction of the unattenuated signal
    "psf_sigma": (0.6, 2.2, 1.1),  # pixels of a 1024-px image; scaled with the size
    "scatter": (0.0, 0.35, 0.12),
    "heel": (0.0, 0.25, 0.08),
    "heel_angle": (0.0, 360.0, 90.0),
    "attenuation": (0.8, 1.35, 1.0),
    "equalise": (0.0, 0.65, 0.35),
    "gamma": (0.7, 1.35, 1.0),
    "low_clip": (0.0, 0.03, 0.005),
    "high_clip": (0.0005, 0.004, 0.0015),
    "sharpen": (0.0, 0.8, 0.3),
    "marker_size": (0.8, 1.6, 1.2),
    "marker_y": (0.12, 0.88, 0.3),
}


def sample_exposure(rng: np.random.Generator, randomise: float) -> dict:
    out = {}
    for name, (lo, hi, canon) in RANGES.items():
        out[name] = float(canon + randomise * (rng.uniform(lo, hi) - canon))
    # Discrete choices: blank for the canonical phantom.
    u = rng.random(6)
    out["grid_lines"] = bool(randomise > 0 and u[0] < 0.2 * randomise)
    out["grid_period"] = float(2.5 + 5.0 * u[1])
    out["collimation"] = "none" if randomise == 0 else ("none", "unexposed", "shutter")[int(u[2] * 3)]
    out["marker_letter"] = "L" if (randomise == 0 or u[3] < 0.6) else "R"
    out["marker_holder"] = bool(u[4] < 0.4 * randomise)
    out["collimation_tilt"] = float(randomise * (u[5] - 0.5) * 3.0)
    return out


def marker_mask(shape: tuple[int, int], letter: str, mapping: SideMapping, head_r_px: float, e: dict,
                avoid_x: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """A lead letter marker on its patient side of the image: (float32 mask 0..1, its box)."""
    h, w = shape
    mask = np.zeros(shape, np.uint8)
    height = max(e["marker_size"] * head_r_px, 6.0)
    scale = height / 22.0  # cv2 Hershey simplex cap height is ~22 px at scale 1
    thick = max(int(round(scale * 2.2)), 1)
    (tw, th), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    side = mapping.image_side("left" if letter == "L" else "right")
    margin = 0.04 * w
    if side == "image_left":
        lo, hi = margin, max(avoid_x[0] - tw - margin, margin + 1)
    else:
        lo, hi = min(avoid_x[1] + margin, w - tw - margin - 1), w - tw - margin
    x = int(rng.uniform(lo, max(hi, lo + 1)))
    y = int(e["marker_y"] * (h - th - 2 * margin) + margin + th)
    cv2.putText(mask, letter, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
    out = mask.astype(np.float32) / 255.0
    if e["marker_holder"]:  # the plastic holder: faint rectangle around the letter
        pad = int(0.35 * height)
        holder = np.zeros(shape, np.float32)
        cv2.rectangle(holder, (x - pad, y - th - pad), (x + tw + pad, y + pad), 0.08, -1)
        out = np.maximum(out, holder)
    return out, (x, y - th, x + tw, y + 1)


def collimation_mask(shape: tuple[int, int], keep_box, e: dict, rng: np.random.Generator) -> np.ndarray | None:
    """1 inside the collimated field, 0 outside; the field always keeps `keep_box` (x0, y0, x1, y1)."""
    if e["collimation"] == "none":
        return None
    h, w = shape
    kx0, ky0, kx1, ky1 = keep_box
    x0 = rng.uniform(0.0, max(min(kx0, 0.15 * w), 0.0))
    x1 = w - rng.uniform(0.0, max(min(w - kx1, 0.15 * w), 0.0))
    y0 = rng.uniform(0.0, max(min(ky0, 0.12 * h), 0.0))
    y1 = h - rng.uniform(0.0, max(min(h - ky1, 0.12 * h), 0.0))
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
    t = math.radians(e["collimation_tilt"])
    centre = box.mean(axis=0)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    pts = (box - centre) @ rot.T + centre
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.0)


def _lowpass(img: np.ndarray, sigma: float) -> np.ndarray:
    """Wide Gaussian blur via a downsampled image (the cost of a large kernel is avoided)."""
    h, w = img.shape
    f = max(int(sigma / 4), 1)
    small = cv2.resize(img, (max(w // f, 1), max(h // f, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def expose(mu: np.ndarray, e: dict, size: int, head_r_px: float, rng: np.random.Generator,
           collimator: np.ndarray | None, detector: dict | None = None) -> np.ndarray:
    """Attenuation -> processed radiograph in [0, 1] (float32, bone bright).

    `detector`: a clinic style's unit (style.Detector draws): its noise grain, stationary grid,
    edge enhancement and tone curve; None is the default phantoms' detector."""
    h, w = mu.shape
    n0 = 10.0 ** e["log10_photons"]
    k = np.float32(e["attenuation"])
    if collimator is not None:  # lead shutters: (almost) nothing reaches the detector outside
        mu = mu + (1.0 - collimator) * np.float32(5.0)
    signal = np.exp(-k * mu)
    if e["heel"] > 0:
        t = math.radians(e["heel_angle"])
        ramp = (np.arange(w, dtype=np.float32)[None, :] / w - 0.5) * math.cos(t) + \
               (np.arange(h, dtype=np.float32)[:, None] / h - 0.5) * math.sin(t)
        signal *= 1.0 + np.float32(e["heel"]) * ramp
    if e["scatter"] > 0:
        signal = (1 - e["scatter"]) * signal + e["scatter"] * _lowpass(signal, 2.5 * head_r_px)
    # Quantum noise arises where photons are absorbed, and the scintillator then spreads both
    # signal and noise: noise before the blur gives the correlated grain of real detectors.
    counts = signal * np.float32(n0)
    noise = rng.standard_normal((h, w), dtype=np.float32)
    sigma = e["psf_sigma"] * size / 1024.0
    if detector is not None:
        noise = _grain(noise, detector["grain_px"] * size / 1024.0, sigma)
    counts += np.sqrt(counts) * noise
    if sigma > 0.2:
        counts = cv2.GaussianBlur(counts, (0, 0), sigma)
    counts += np.float32(e["electronic_noise"] * n0) * rng.standard_normal((h, w), dtype=np.float32)
    if e["grid_lines"]:
        phase = np.arange(w, dtype=np.float32) * np.float32(2 * math.pi / e["grid_period"] * size / 1024.0)
        counts *= 1.0 - 0.03 * (0.5 + 0.5 * np.cos(phase))[None, :]
    if detector is not None:
        counts *= _grid_rows(h, detector)[:, None]
    img = np.log(np.float32(n0)) - np.log(np.maximum(counts, 0.5))
    if e["equalise"] > 0:  # DR processing flattens thick vs thin soft tissue, keeps the edges
        img -= np.float32(e["equalise"]) * (_lowpass(img, 3.0 * head_r_px) - img.mean())
    if e["sharpen"] > 0:
        img += np.float32(e["sharpen"]) * (img - cv2.GaussianBlur(img, (0, 0), max(0.25 * head_r_px, 1.0)))
    if detector is not None:
        img = _unsharp(img, detector, head_r_px)
    exposed = img if collimator is None else img[collimator[::, ::] > 0.99]
    sample = exposed.ravel()[:: max(exposed.size // 200_000, 1)]
    lo, hi = np.quantile(sample, [e["low_clip"], 1.0 - e["high_clip"]])
    out = np.clip((img - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    if e["gamma"] != 1.0:
        out = out ** np.float32(e["gamma"])
    if detector is not None:
        out = _tone(out, detector)
    if collimator is not None and e["collimation"] == "shutter":  # software shutter: black outside
        out *= collimator
    return out.astype(np.float32, copy=False)


# A clinic style's detector (see style.Detector); never used by the default phantoms.

def _grain(noise: np.ndarray, grain_px: float, psf_px: float) -> np.ndarray:
    """White noise made coarser (correlated over ~grain_px, a coarse CR phosphor), scaled so that
    after the detector's blur (psf_px) its amplitude is what white noise would have had: the
    texture moves to lower frequencies, the photon count still sets how strong it is."""
    if grain_px <= 0.2:
        return noise
    # White noise blurred by s has a standard deviation of 1 / (2 sqrt(pi) s); blurs add in quadrature.
    if psf_px > 0.2:  # expose() blurs only above 0.2 px
        gain = math.sqrt(grain_px ** 2 + psf_px ** 2) / psf_px
    else:
        gain = 2.0 * math.sqrt(math.pi) * grain_px
    return cv2.GaussianBlur(noise, (0, 0), grain_px) * np.float32(gain)


def _grid_rows(h: int, d: dict) -> np.ndarray:
    """Transmission of a stationary grid, per row: its lead strips run across the image, so each
    image is crossed by fine horizontal lines at the same period (a moving grid would blur them)."""
    y = np.arange(h, dtype=np.float64)
    lines = 0.5 + 0.5 * np.cos(2 * math.pi * y / d["grid_period_px"] + d["grid_phase"])
    return (1.0 - d["grid_depth"] * lines).astype(np.float32)


def _unsharp(img: np.ndarray, d: dict, head_r_px: float) -> np.ndarray:
    """CR-style unsharp masking with a wide kernel: edges gain a bright rim inside the bone and a
    dark halo beside it, and the grid lines are sharpened along with everything else."""
    sigma = max(d["usm_radius"] * head_r_px, 1.0)
    return img + np.float32(d["usm_amount"]) * (img - cv2.GaussianBlur(img, (0, 0), sigma))


def _tone(out: np.ndarray, d: dict) -> np.ndarray:
    """The unit's look-up table: a logistic curve, rescaled to [black, white]. Its toe darkens the
    soft tissue, its shoulder flattens the bone's contrast."""
    c, k = d["tone_centre"], d["tone_slope"]
    lo, hi = 1.0 / (1.0 + math.exp(k * c)), 1.0 / (1.0 + math.exp(-k * (1.0 - c)))
    y = (1.0 / (1.0 + np.exp(-k * (out - c))) - lo) / (hi - lo)
    return (d["black"] + (d["white"] - d["black"]) * y).astype(np.float32)
