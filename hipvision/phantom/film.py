"""What happens to a radiograph after the detector: film and cassette borders, white frames of a
scanned film, scanner stripes and text labels.

Real VD radiographs that reach a clinic's software are often digitised films or exports with
burnt-in annotations: a bright unexposed frame on some sides, ragged scanner edges with streaks,
patient/clinic text. None of it may cover the hips (the landmarks stay visible), but all of it
must be seen in training, or the model reads a white frame edge as a bone edge.

A digital unit's finish (a clinic style) is different: no film, a black software mask outside
the collimated field, and a side marker burnt in by the software rather than a lead letter in
the beam.
"""

from __future__ import annotations

import math
import string

import cv2
import numpy as np

from hipvision.core.landmarks import SideMapping

LABEL_CHARS = string.ascii_uppercase + string.digits + " -./:"
FONTS = {"simplex": cv2.FONT_HERSHEY_SIMPLEX, "duplex": cv2.FONT_HERSHEY_DUPLEX,
         "complex": cv2.FONT_HERSHEY_COMPLEX, "plain": cv2.FONT_HERSHEY_PLAIN}


def sample_film(rng: np.random.Generator) -> dict:
    u = rng.random(8)
    return {
        "border_sides": [bool(v < 0.35) for v in rng.random(4)],  # left, top, right, bottom
        "border_bright": float(rng.uniform(0.75, 1.0)),
        "border_edge_dark": bool(u[0] < 0.5),  # a dark gap between the film and its frame
        "stripes": bool(u[1] < 0.3),  # scanner streaks in a border
        "ragged": bool(u[2] < 0.3),  # torn/irregular outer edge, black outside
        "labels": int(rng.integers(0, 4)) if u[3] < 0.6 else 0,
        "label_box": bool(u[4] < 0.5),  # white label plate with dark text
        "invert_label": bool(u[5] < 0.5),
    }


def _free_band(lo_keep: float, hi_keep: float, extent: int, frac: float) -> tuple[int, int] | None:
    """Band widths for the low and high side that stay clear of [lo_keep, hi_keep]."""
    return int(max(min(frac * extent, lo_keep - 2), 0)), int(max(min(frac * extent, extent - hi_keep - 2), 0))


def add_borders(img: np.ndarray, keep_box, f: dict, rng: np.random.Generator) -> None:
    """Bright film frames on some sides (in place), never over `keep_box` (x0, y0, x1, y1)."""
    h, w = img.shape
    x0, y0, x1, y1 = keep_box
    lo_x, hi_x = _free_band(x0, x1, w, rng.uniform(0.03, 0.2))
    lo_y, hi_y = _free_band(y0, y1, h, rng.uniform(0.02, 0.12))
    widths = {"left": lo_x, "top": lo_y, "right": hi_x, "bottom": hi_y}
    for on, name in zip(f["border_sides"], ("left", "top", "right", "bottom")):
        width = widths[name]
        if not on or width < 3:
            continue
        # Brightness fades slowly along the band (uneven film base), with fine grain.
        ramp = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.0), h if name in ("left", "right") else w)
        val = f["border_bright"] * ramp
        sl = {"left": (slice(None), slice(0, width)), "right": (slice(None), slice(w - width, w)),
              "top": (slice(0, width), slice(None)), "bottom": (slice(h - width, h), slice(None))}[name]
        band = img[sl]
        along = val[:, None] if name in ("left", "right") else val[None, :]
        band[...] = np.broadcast_to(along, band.shape) + rng.normal(0, 0.01, band.shape)
        if f["stripes"] and name in ("left", "right"):
            # Scanner streaks run along the scan direction: rows of varying brightness.
            rows = rng.normal(0.0, 1.0, (band.shape[0], 1))
            band[...] = band * (1.0 - 0.35 * (rows > 0.3)) - 0.25 * (rows > 1.2)
        if f["ragged"] and name in ("left", "right"):
            depth = np.clip(rng.normal(0.25, 0.2, band.shape[0]), 0, 0.9) * band.shape[1]
            cols = np.arange(band.shape[1])[None, :]
            outer = cols < depth[:, None] if name == "left" else cols >= band.shape[1] - depth[:, None]
            band[outer] = 0.0
        if f["border_edge_dark"]:  # the film's own edge: a thin dark line where it meets the image
            t = max(1, width // 25)
            edge = {"left": (slice(None), slice(width, width + t)),
                    "right": (slice(None), slice(w - width - t, w - width)),
                    "top": (slice(width, width + t), slice(None)),
                    "bottom": (slice(h - width - t, h - width), slice(None))}
            img[edge[name]] *= 0.3
    np.clip(img, 0.0, 1.0, out=img)


def add_labels(img: np.ndarray, keep_box, f: dict, rng: np.random.Generator) -> None:
    """Burnt-in text (patient, clinic, date) in places clear of `keep_box`."""
    h, w = img.shape
    kx0, ky0, kx1, ky1 = keep_box
    for _ in range(f["labels"]):
        text = "".join(rng.choice(list(LABEL_CHARS), int(rng.integers(4, 16)))).strip() or "VD"
        scale = float(rng.uniform(0.4, 1.4)) * max(h, w) / 1024
        thick = max(1, int(round(scale * rng.uniform(1.0, 2.5))))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        pad = int(0.4 * th)
        for _attempt in range(12):
            x = int(rng.uniform(0, max(w - tw - 2 * pad, 1)))
            y = int(rng.uniform(th + pad, max(h - base - pad, th + pad + 1)))
            bx0, by0, bx1, by1 = x - pad, y - th - pad, x + tw + pad, y + base + pad
            if bx1 < kx0 or bx0 > kx1 or by1 < ky0 or by0 > ky1:
                break
        else:
            continue
        layer = np.zeros((h, w), np.uint8)
        bright = 1.0 if not f["invert_label"] else 0.05
        if f["label_box"]:
            cv2.rectangle(img, (max(bx0, 0), max(by0, 0)), (min(bx1, w - 1), min(by1, h - 1)), 1.0 - bright + 0.05, -1)
        cv2.putText(layer, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
        a = layer.astype(np.float32) / 255.0
        img[...] = img * (1.0 - a) + bright * a


# A clinic style's digital finish (style.Finish draws): no film, a black mask and a software marker.

def collimated_field(shape: tuple[int, int], keep_box, f: dict) -> np.ndarray:
    """1 inside this unit's collimated field, 0 outside (soft edge); the field, rotated by its small
    tilt about the hips' box, always holds `keep_box` (x0, y0, x1, y1)."""
    h, w = shape
    kx0, ky0, kx1, ky1 = keep_box
    centre = np.array([(kx0 + kx1) / 2, (ky0 + ky1) / 2])
    t = math.radians(f["tilt_deg"])
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    # The keep box seen in the field's own (unrotated) axes, plus a few pixels of penumbra.
    corners = np.array([[kx0, ky0], [kx1, ky0], [kx1, ky1], [kx0, ky1]]) - centre
    seen = corners @ rot + centre  # rot.T applied from the right = rotation by -t
    lo, hi = seen.min(axis=0) - 4, seen.max(axis=0) + 4
    ml, mt, mr, mb = f["margins"]
    x0, y0 = min(ml * w, lo[0]), min(mt * h, lo[1])
    x1, y1 = max(w - mr * w, hi[0]), max(h - mb * h, hi[1])
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) - centre
    pts = box @ rot.T + centre
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.7)  # a sharp electronic mask


def burn_in_marker(img: np.ndarray, field: np.ndarray, keep_box, mapping: SideMapping, f: dict) -> dict | None:
    """The software side marker: "L" in a box plus a caption, pure white, in the top corner above the
    patient's left side: inside the black border where it fits, over the field's edge where it does
    not (software draws it anyway), never over `keep_box`. Returns where it went, or None."""
    h, w = img.shape
    font = FONTS[f["font"]]
    top = _border_rows(field)
    size = max(f["marker_height"] * h, 8.0)  # legible at any image size
    scale = size / 22.0  # Hershey cap height is ~22 px at scale 1
    thick = max(int(round(scale * 2.0)), 1)
    (lw, lh), _ = cv2.getTextSize("L", font, scale, thick)
    (cw, _ch), _ = cv2.getTextSize(f["caption"], font, 0.6 * scale, max(thick - 1, 1))
    pad = max(int(0.3 * lh), 2)
    total = lw + 3 * pad + cw
    left = mapping.image_side("left") == "image_left"
    x = int(0.03 * w) if left else int(w - 0.03 * w - total)
    y = int(round((top + lh) / 2)) if 2 * size <= top else lh + pad + 1  # centred in the border if it fits
    box = (x - pad, y - lh - pad, x + total, y + pad)
    kx0, ky0, kx1, ky1 = keep_box
    if box[3] >= ky0 and not (box[2] < kx0 or box[0] > kx1):
        return None
    layer = np.zeros((h, w), np.uint8)
    cv2.rectangle(layer, box[:2], (x + lw + pad, box[3]), 255, max(thick // 2, 1), cv2.LINE_AA)
    cv2.putText(layer, "L", (x, y), font, scale, 255, thick, cv2.LINE_AA)
    cv2.putText(layer, f["caption"], (x + lw + 3 * pad, y), font, 0.6 * scale, 255, max(thick - 1, 1), cv2.LINE_AA)
    a = layer.astype(np.float32) / 255.0
    img[...] = img * (1.0 - a) + a
    return {"box": [int(v) for v in box], "image_side": "image_left" if left else "image_right"}


def _border_rows(field: np.ndarray) -> int:
    """Rows of black border above the field at its narrowest (the field may be slightly tilted)."""
    inside = (field > 0.5).any(axis=1)
    return int(np.argmax(inside)) if inside.any() else 0
