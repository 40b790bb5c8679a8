"""Contact sheet of phantoms, optionally beside real references (for looking, never committed).

    python docs/phantoms/make_contact_sheet.py docs/phantoms/contact_sheet.png --wide-fraction 1 -n 12
    python docs/phantoms/make_contact_sheet.py /tmp/with_refs.png --references ../shared/reference

The real reference radiographs have no licence: a sheet that includes them stays on your machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from hipvision.phantom import PhantomConfig, derived_seed, render_phantom


def tile(img: np.ndarray, cell: int, landmarks=None) -> np.ndarray:
    img = img.astype(np.float32)
    img = (img - img.min()) / max(float(img.max() - img.min()), 1e-6)
    h, w = img.shape
    s = cell / max(h, w)
    small = cv2.resize(img, (max(int(w * s), 1), max(int(h * s), 1)), interpolation=cv2.INTER_AREA)
    out = np.zeros((cell, cell, 3), np.float32)
    out[: small.shape[0], : small.shape[1]] = small[..., None]
    if landmarks is not None:
        for sd in (landmarks.left, landmarks.right):
            c = (int(sd.head_x * s), int(sd.head_y * s))
            cv2.circle(out, c, max(int(sd.head_r * s), 1), (0.2, 0.9, 0.2), 1, cv2.LINE_AA)
            cv2.circle(out, (int(sd.rim_x * s), int(sd.rim_y * s)), 2, (0.9, 0.3, 0.2), -1)
    return (out * 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--wide-fraction", type=float, default=1.0)
    ap.add_argument("--cell", type=int, default=256)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--labels", action="store_true", help="draw the exact landmarks")
    ap.add_argument("--references", help="folder of real references to put first (local use only)")
    args = ap.parse_args()
    cells = []
    if args.references:
        for p in sorted(Path(args.references).glob("*.jpg")):
            cells.append(tile(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), args.cell))
    cfg = PhantomConfig(size=1024, wide_fraction=args.wide_fraction)
    for i in range(args.n):
        case = render_phantom(derived_seed(args.seed, i), cfg)
        cells.append(tile(case.pixels, args.cell, case.landmarks if args.labels else None))
    rows = [cells[i:i + args.cols] for i in range(0, len(cells), args.cols)]
    rows[-1] += [np.zeros_like(cells[0])] * (args.cols - len(rows[-1]))
    sheet = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    cv2.imwrite(args.out, sheet[..., ::-1])


if __name__ == "__main__":
    main()
