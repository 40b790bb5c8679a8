"""Side-by-side sheet: the same dogs (seeds) as default phantoms and in a clinic style.

    python docs/phantoms/make_clinic_sheet.py docs/phantoms/clinic_b.png
    python docs/phantoms/make_clinic_sheet.py /tmp/sheet.png --style clinic-b --seeds 0 1 2 3 --labels

Top row: the default style; bottom row: the chosen style. Each seed is the same dog (NA, hips,
anatomy) in both rows, so what differs is the clinic: its unit, its positioning, its patients' size.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from hipvision.phantom import PhantomConfig, render_phantom


def cell(case, size: int, labels: bool) -> np.ndarray:
    """The phantom scaled into a size x size grey cell, centred (its full range shown, as a viewer would)."""
    img = case.pixels.astype(np.float32)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6)
    h, w = img.shape
    s = size / max(h, w)
    small = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA)
    out = np.full((size, size, 3), 0.25, np.float32)
    y0, x0 = (size - small.shape[0]) // 2, (size - small.shape[1]) // 2
    out[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small[..., None]
    if labels:
        for sd in (case.landmarks.left, case.landmarks.right):
            c = (int(x0 + sd.head_x * s), int(y0 + sd.head_y * s))
            cv2.circle(out, c, max(int(sd.head_r * s), 1), (0.2, 0.9, 0.2), 1, cv2.LINE_AA)
            cv2.circle(out, (int(x0 + sd.rim_x * s), int(y0 + sd.rim_y * s)), 2, (0.2, 0.3, 0.9), -1)
    out = (out * 255).astype(np.uint8)
    return out if labels else out[..., 0]  # grey: a third of the file size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--style", default="clinic-b")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--size", type=int, default=512, help="phantom size, px")
    ap.add_argument("--cell", type=int, default=320, help="sheet cell size, px")
    ap.add_argument("--wide-fraction", type=float, default=0.5)
    ap.add_argument("--labels", action="store_true", help="draw the exact landmarks")
    args = ap.parse_args()
    rows = []
    for style in ("default", args.style):
        cfg = PhantomConfig(size=args.size, wide_fraction=args.wide_fraction, style=style)
        row = np.concatenate([cell(render_phantom(s, cfg), args.cell, args.labels) for s in args.seeds], axis=1)
        cv2.putText(row, style, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        rows.append(row)
    cv2.imwrite(args.out, np.concatenate(rows, axis=0), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main()
