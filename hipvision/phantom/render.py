"""Procedural VD hip-extended pelvis radiograph phantoms with exact Norberg-angle landmarks.

No licensed dog-hip data set can ship with the app, so the sample project, the tests and the
benchmarks use these phantoms. The order is: draw the target NA of each hip, build the
landmarks so that they give that NA exactly (`phantom_geometry`), then draw the anatomy around
them (`phantom_anatomy`) and acquire it (`phantom_exposure`). Everything else (pose, size,
soft tissue, exposure, noise) is randomised so that a model trained on phantoms is a sensible
first guess on real radiographs. A clinic style (`PhantomConfig.style`, see `style`) shifts the
look consistently instead: another unit, room and patient population, the same dogs.

Pixel coordinates: integer values are pixel centres (as in numpy/OpenCV), origin top-left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hipvision.core.atomic import write_bytes_atomic
from hipvision.core.interchange import AnnotatedImage, InterchangeError, read_coco, write_coco, write_csv
from hipvision.core.landmarks import HipLandmarks, Side, SideMapping
from hipvision.phantom.anatomy import draw_anatomy, sample_anatomy
from hipvision.phantom.body import sample_body
from hipvision.phantom.exposure import collimation_mask, expose, marker_mask, sample_exposure
from hipvision.phantom.film import add_borders, add_labels, burn_in_marker, collimated_field, sample_film
from hipvision.phantom.geometry import Frame, build_hips, pixel_landmarks, sample_na_pair
from hipvision.phantom.style import STYLES, style_names

NA_LIMITS = (50.0, 140.0)  # what the geometry can build with a plausible acetabulum
FORMATS = ("png", "dicom")
DICOM_COMPRESSIONS = (None, "jpeg2000", "rle")
ANNOTATIONS_NAME = "annotations.json"
TRUTH_NAME = "truth.csv"
# Wide-field phantoms: the pelvis (iliac crest to ischium, ~12.1 head radii) fills this share of
# the image height, log-uniformly: from a whole-body view (8 %) to a tight pelvis view.
PELVIS_SPAN = 12.1
PELVIS_FRACTION = (0.08, 0.9)
HEAD_RADIUS_MM = (4.0, 16.0)  # femoral-head radius from toy breeds to giant ones


def _number(owner: str, name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{owner}.{name} must be in [{lo}, {hi}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class PhantomConfig:
    """What kind of phantoms to draw; every field is checked on construction."""

    size: int = 1024  # longest side in px (images are 1.0-1.25 aspect, mostly portrait)
    na_range: tuple[float, float] = (70.0, 125.0)
    dysplastic_fraction: float = 0.35  # share of hips drawn below 100 degrees
    bit_depth: int = 16  # 8 or 16
    randomise: float = 1.0  # 0 = canonical phantom, 1 = full domain randomisation
    flip_fraction: float = 0.0  # share of images with the patient's right on the image's right
    # Share of wide-field images: abdomen, thorax and limbs in view, the pelvis anywhere at any
    # scale, film frames and text. 0 keeps every image pelvis-framed (the classic phantom).
    wide_fraction: float = 0.0
    # A named clinic look (style.STYLES): another unit, room and patient population, for measuring
    # domain shift and few-shot fine-tuning. "default" is the phantoms above, unchanged.
    style: str = "default"

    def __post_init__(self) -> None:
        owner = "PhantomConfig"
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 64 <= self.size <= 8192:
            raise ValueError(f"{owner}.size must be an integer in [64, 8192], got {self.size!r}")
        try:
            lo, hi = self.na_range
        except (TypeError, ValueError):
            raise ValueError(f"{owner}.na_range must be (min, max) in degrees, got {self.na_range!r}") from None
        lo = _number(owner, "na_range[0]", lo, *NA_LIMITS)
        hi = _number(owner, "na_range[1]", hi, *NA_LIMITS)
        if not lo < hi:
            raise ValueError(f"{owner}.na_range must have min < max, got {self.na_range!r}")
        object.__setattr__(self, "na_range", (lo, hi))
        _number(owner, "dysplastic_fraction", self.dysplastic_fraction, 0.0, 1.0)
        _number(owner, "randomise", self.randomise, 0.0, 1.0)
        _number(owner, "flip_fraction", self.flip_fraction, 0.0, 1.0)
        _number(owner, "wide_fraction", self.wide_fraction, 0.0, 1.0)
        if self.bit_depth not in (8, 16) or isinstance(self.bit_depth, bool):
            raise ValueError(f"{owner}.bit_depth must be 8 or 16, got {self.bit_depth!r}")
        if not isinstance(self.style, str) or self.style not in STYLES:
            raise ValueError(f"{owner}.style must be one of {style_names()}, got {self.style!r}")


@dataclass(frozen=True, eq=False)
class PhantomCase:
    pixels: np.ndarray  # uint16 or uint8, (H, W), bone bright
    landmarks: HipLandmarks  # exact, by patient side, full-resolution pixel coordinates
    mapping: SideMapping
    spacing: tuple[float, float]  # (row, col) mm per pixel
    target_na: dict[str, float]  # {"left": .., "right": ..}, equal to the landmarks' NA
    params: dict = field(default_factory=dict)  # the random draws, for provenance and debugging


def _keep_points(hips, span: float) -> np.ndarray:
    """Frame points that must stay inside the image: both hip joints and trochanters."""
    pts = []
    for h in hips:
        for dx, dy in ((-span, -span), (span, -span), (-span, span), (span, span)):
            pts.append((h.head[0] + dx, h.head[1] + dy))
            pts.append((h.rim[0] + dx, h.rim[1] + dy))
    return np.asarray(pts)


def _place(hips, shape: tuple[int, int], r_px: float, tilt: float, margin: float, place: tuple[float, float],
           rnd: float, wide: bool, shift: float = 0.0) -> Frame:
    """Pose of the pelvis: the hip region (joints plus trochanters) inside the image with a margin,
    shrunk if it does not fit. A pelvis view centres it (give or take, plus a clinic's habitual
    `shift`, a share of the width); a wide view puts it anywhere."""
    h, w = shape
    keep = Frame(0.0, 0.0, 1.0, tilt).to_px(_keep_points(hips, 2.4))
    lo_xy, hi_xy = keep.min(axis=0), keep.max(axis=0)
    r_px = min(r_px, (w - 2 * margin) / (hi_xy[0] - lo_xy[0]), (h - 2 * margin) / (hi_xy[1] - lo_xy[1]))
    x_range = (margin - lo_xy[0] * r_px, w - margin - hi_xy[0] * r_px)
    y_range = (margin - lo_xy[1] * r_px, h - margin - hi_xy[1] * r_px)
    if wide:
        ox = x_range[0] + place[0] * (x_range[1] - x_range[0])
        oy = y_range[0] + place[1] * (y_range[1] - y_range[0])
    else:
        ox = w / 2 + rnd * (place[0] - 0.5) * 0.2 * w + shift * w
        oy = place[1] * h
    ox, oy = min(max(ox, x_range[0]), x_range[1]), min(max(oy, y_range[0]), y_range[1])
    return Frame(ox, oy, r_px, tilt)


def render_phantom(seed: int, config: PhantomConfig = PhantomConfig()) -> PhantomCase:
    """One phantom, fully determined by (seed, config)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    rnd = config.randomise

    def jitter(lo: float, hi: float, canonical: float) -> float:
        return canonical + rnd * (rng.uniform(lo, hi) - canonical)

    mapping = SideMapping(right_on_image_left=bool(rng.random() >= config.flip_fraction))
    na = sample_na_pair(rng, config.na_range, config.dysplastic_fraction)
    aspect = jitter(1.0, 1.25, 1.15)
    portrait = bool(rng.random() < 0.7) or rnd == 0
    r_px = config.size * jitter(0.024, 0.048, 0.038)
    r_mm = jitter(10.0, 14.0, 12.0)
    tilt = math.radians(jitter(-6.0, 6.0, 0.0))
    place_x, place_y = rng.random(), jitter(0.47, 0.7, 0.6)
    hips = build_hips(rng, na, mapping, rnd)
    gap = abs(hips[1].acetabulum[0])
    anatomy = sample_anatomy(rng, rnd)
    exposure = sample_exposure(rng, rnd)

    # A clinic style replaces some of those draws by its own, from its own stream: the dog stays the seed's.
    look = STYLES[config.style].sample(int(seed), rnd)
    pos = look.get("positioning")
    if pos is not None:  # one cassette, a fixed pixel spacing, this clinic's patients and habits
        aspect, portrait, r_mm, tilt = pos["aspect"], True, pos["head_radius_mm"], math.radians(pos["tilt_deg"])
        r_px, place_y, anatomy["roll"] = r_mm * config.size / pos["cassette_mm"][1], pos["hips_y"], pos["roll"]
    exposure.update(look.get("exposure", {}))
    short = int(round(config.size / aspect))
    h, w = (config.size, short) if portrait else (short, config.size)

    # The wide-field draws come from their own stream, so a seed's classic phantom never changes.
    wide_rng = np.random.default_rng([int(seed), 0x57DE])
    wide = bool(wide_rng.random() < config.wide_fraction)
    if wide:
        lo_f, hi_f = PELVIS_FRACTION
        r_px = h * math.exp(wide_rng.uniform(math.log(lo_f), math.log(hi_f))) / PELVIS_SPAN
        r_mm = float(wide_rng.uniform(*HEAD_RADIUS_MM))  # toy to giant breeds: the pixel spacing follows
        r_mm = r_mm if pos is None else pos["head_radius_mm"]
    frame = _place(hips, (h, w), r_px, tilt, 0.03 * config.size if not wide else 0.01 * config.size,
                   (place_x, place_y) if not wide else tuple(wide_rng.random(2)), rnd, wide,
                   0.0 if pos is None else pos["shift_x"])
    r_px = frame.scale

    landmarks = pixel_landmarks(frame, hips, mapping)
    for side in Side:
        err = abs(landmarks.norberg_angle(side) - na[side.value])
        if err > 1e-9:  # the construction is exact; anything else is a bug, not noise
            raise AssertionError(f"phantom NA mismatch {err} deg on the {side.value} hip (seed {seed})")

    body = sample_body(wide_rng) if wide else None
    mu = draw_anatomy((h, w), frame, hips, anatomy, gap, rng, body, wide_rng)
    # Markers and processing scales follow the head in a pelvis view, the image in a wide one.
    look_r = max(r_px, 0.03 * config.size) if wide else r_px
    image, hips_box = _acquire(mu, frame, hips, landmarks, mapping, exposure, look, config.size, look_r, rng)
    film = sample_film(wide_rng) if wide and "finish" not in look else None  # a digital unit has no film
    if film is not None:
        add_borders(image, hips_box, film, wide_rng)
        add_labels(image, hips_box, film, wide_rng)
    top = 255 if config.bit_depth == 8 else 65535
    pixels = (image * top + 0.5).astype(np.uint8 if config.bit_depth == 8 else np.uint16)

    spacing_mm = float(f"{r_mm / r_px:.6g}")  # 6 digits: what a DICOM DS keeps, so files agree
    params = {
        "seed": int(seed), "na": na, "right_on_image_left": mapping.right_on_image_left,
        "height": h, "width": w, "head_radius_px": r_px, "head_radius_mm": r_mm,
        "tilt_deg": math.degrees(tilt), "origin_px": (frame.ox, frame.oy),
        "hips": {hh.patient_side: {"severity": hh.severity, "subluxation": abs(hh.head[0] - hh.acetabulum[0]),
                                  "socket_radius": hh.socket_r, "rim_psi_deg": hh.rim_psi,
                                  "flatten": hh.flatten} for hh in hips},
        "anatomy": anatomy, "exposure": exposure,
        "wide": wide, "pelvis_fraction": PELVIS_SPAN * r_px / h, "body": body, "film": film, "style": look,
    }
    return PhantomCase(pixels=pixels, landmarks=landmarks, mapping=mapping, spacing=(spacing_mm, spacing_mm),
                       target_na=dict(na), params=params)


def _acquire(mu: np.ndarray, frame: Frame, hips, landmarks: HipLandmarks, mapping: SideMapping, exposure: dict,
             look: dict, size: int, look_r: float, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """Marker, collimation and exposure: (image in [0, 1], the hips' box that nothing may cover).

    The default unit has a lead marker in the beam and a randomised collimation; a clinic style's
    `finish` has black-masked collimation and a marker its software burns in afterwards."""
    h, w = mu.shape
    r_px = frame.scale
    keep_px = frame.to_px(_keep_points(hips, 2.6))
    hips_box = (keep_px[:, 0].min(), keep_px[:, 1].min(), keep_px[:, 0].max(), keep_px[:, 1].max())
    finish = look.get("finish")
    if finish is None:
        head_xs = [landmarks.left.head_x, landmarks.right.head_x]
        avoid = (min(head_xs) - 2.6 * r_px, max(head_xs) + 2.6 * r_px)
        marker, marker_box = marker_mask((h, w), exposure["marker_letter"], mapping, look_r, exposure, avoid, rng)
        mu += 3.0 * marker
        keep_box = (min(hips_box[0], marker_box[0]), min(hips_box[1], marker_box[1]),
                    max(hips_box[2], marker_box[2]), max(hips_box[3], marker_box[3]))
        collimator = collimation_mask((h, w), keep_box, exposure, rng)
    else:
        exposure.update(collimation="shutter", marker_letter="L", marker_holder=False)
        collimator = collimated_field((h, w), hips_box, finish)
    image = expose(mu, exposure, size, look_r, rng, collimator, look.get("detector"))
    if finish is not None:
        finish["marker"] = burn_in_marker(image, collimator, hips_box, mapping, finish)
    return image, hips_box


def derived_seed(seed: int, index: int) -> int:
    """Seed of image `index` of a set: independent of the set's size, so n=10 and n=20 share
    their first 10 images."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint32)[0])


def _window(pixels: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(pixels[::4, ::4], [0.01, 0.995])
    return float((lo + hi) / 2), float(max(hi - lo, 1))


def _write_image(path: Path, case: PhantomCase, fmt: str, compress: str | None, index: int) -> Path:
    if fmt == "png":
        ok, buf = cv2.imencode(".png", case.pixels, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise OSError(f"{path}: PNG encoding failed")
        return write_bytes_atomic(path, buf.tobytes())
    from hipvision.core.dicom_write import write_dicom

    return write_dicom(path, case.pixels, spacing=case.spacing, patient_id=f"PHANTOM-{index:04d}",
                       patient_name=f"Phantom^{index:04d}", modality="DX", window=_window(case.pixels),
                       compress=compress, extra={"SeriesDescription": "HipVision phantom VD hip-extended"})


def _existing(out_dir: Path) -> dict[str, AnnotatedImage]:
    """Annotations already in the folder whose image is still there (so adding images keeps them)."""
    path = out_dir / ANNOTATIONS_NAME
    if not path.exists():
        return {}
    try:
        items = read_coco(path)
    except InterchangeError as exc:
        raise ValueError(f"{path} exists but cannot be merged: {exc}") from None
    return {it.image: it for it in items if (out_dir / it.image).is_file() and it.landmarks is not None}


def generate_phantoms(out_dir, n: int, *, seed: int, config: PhantomConfig = PhantomConfig(), fmt: str = "png",
                      start: int = 0, compress: str | None = None, progress=None, cancel=None) -> list[Path]:
    """Write phantoms `start` .. `start + n - 1` to out_dir, with annotations.json and truth.csv.

    Image i is rendered from derived_seed(seed, i). Annotations of other images already in the
    folder are kept, so a set can be grown (or mixed PNG/DICOM) by further calls. On cancel the
    images finished so far are annotated and returned.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start must be a non-negative integer, got {start!r}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if compress not in DICOM_COMPRESSIONS or (compress is not None and fmt != "dicom"):
        raise ValueError(f"compress must be one of {DICOM_COMPRESSIONS} (DICOM only), got {compress!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items = _existing(out_dir)
    written: list[Path] = []
    suffix = ".png" if fmt == "png" else ".dcm"
    for k in range(n):
        if cancel is not None and cancel.is_set():
            break
        i = start + k
        case = render_phantom(derived_seed(seed, i), config)
        path = _write_image(out_dir / f"phantom_{i:04d}{suffix}", case, fmt, compress, i)
        written.append(path)
        hh, ww = case.pixels.shape
        items[path.name] = AnnotatedImage(image=path.name, landmarks=case.landmarks, width=ww, height=hh,
                                          spacing=case.spacing, mapping=case.mapping)
        if progress is not None:
            progress(k + 1, n, path.name)
    ordered = [items[name] for name in sorted(items)]
    # The default style keeps its old description, so default sets stay byte-identical.
    style = "" if config.style == "default" else f", clinic style {config.style}"
    write_coco(out_dir / ANNOTATIONS_NAME, ordered, description=f"HipVision phantoms (seed {seed}{style})")
    write_csv(out_dir / TRUTH_NAME, ordered)
    return written
