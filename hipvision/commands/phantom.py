"""`hipvision phantom OUT -n N --seed S`: render labelled VD pelvis phantoms into a folder."""

from __future__ import annotations

import sys

from hipvision.phantom.style import STYLES


def register(sub) -> None:
    p = sub.add_parser(
        "phantom", help="render synthetic VD hip radiographs with exact Norberg-angle labels",
        description="Writes phantom_0000.png ... (or .dcm), annotations.json (COCO keypoints) and truth.csv "
                    "(flat CSV with the exact na_deg) into OUT. Image i depends only on (seed, i), so a larger "
                    "n with the same seed repeats the smaller set first; images already in OUT keep their labels.")
    p.add_argument("out", metavar="OUT", help="output folder (created if missing)")
    p.add_argument("-n", type=int, default=10, help="number of images (default 10)")
    p.add_argument("--seed", type=int, default=0, help="set seed (default 0)")
    p.add_argument("--start", type=int, default=0, help="index of the first image (to grow a set; default 0)")
    p.add_argument("--size", type=int, default=1024, help="longest side in px (default 1024)")
    p.add_argument("--format", choices=("png", "dicom"), default="png", dest="fmt")
    p.add_argument("--bit-depth", type=int, choices=(8, 16), default=16)
    p.add_argument("--na-min", type=float, default=70.0, help="smallest NA drawn, degrees (default 70)")
    p.add_argument("--na-max", type=float, default=125.0, help="largest NA drawn, degrees (default 125)")
    p.add_argument("--dysplastic-fraction", type=float, default=0.35,
                   help="share of hips drawn below 100 degrees (default 0.35)")
    p.add_argument("--randomise", type=float, default=1.0,
                   help="0 = canonical phantom, 1 = full domain randomisation (default 1)")
    p.add_argument("--flip-fraction", type=float, default=0.0,
                   help="share of images with the patient's right on the image's right (default 0)")
    p.add_argument("--wide-fraction", type=float, default=0.0,
                   help="share of wide-field images: abdomen/thorax/limbs in view, pelvis 8-90%% of the height "
                        "anywhere in the frame, film frames and text labels (default 0: pelvis-framed)")
    p.add_argument("--style", default="default", choices=list(STYLES), metavar="NAME",
                   help="clinic style, another X-ray unit's look for domain-shift tests (default: default). "
                        + "; ".join(f"{s.name}: {s.description}" for s in STYLES.values()).replace("%", "%%"))
    p.add_argument("--compress", choices=("none", "jpeg2000", "rle"), default="none",
                   help="DICOM transfer syntax: lossless JPEG 2000 or RLE (default uncompressed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.phantom import ANNOTATIONS_NAME, TRUTH_NAME, PhantomConfig, generate_phantoms

    compress = None if args.compress == "none" else args.compress
    if compress is not None and args.fmt != "dicom":
        raise CommandError("--compress applies to --format dicom only")
    try:
        config = PhantomConfig(size=args.size, na_range=(args.na_min, args.na_max),
                               dysplastic_fraction=args.dysplastic_fraction, bit_depth=args.bit_depth,
                               randomise=args.randomise, flip_fraction=args.flip_fraction,
                               wide_fraction=args.wide_fraction, style=args.style)
    except ValueError as exc:
        raise CommandError(str(exc).replace("PhantomConfig.", "")) from None
    if args.n < 1:
        raise CommandError(f"-n must be at least 1, got {args.n}")
    if args.seed < 0 or args.start < 0:
        raise CommandError("--seed and --start must be non-negative")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} exists and is not a folder")

    bar = tqdm(total=args.n, unit="img", file=sys.stderr, disable=args.quiet, desc="phantoms")

    def progress(done: int, total: int, msg: str) -> None:
        bar.update(done - bar.n)
        bar.set_postfix_str(msg)

    try:
        written = generate_phantoms(out, args.n, seed=args.seed, config=config, fmt=args.fmt, start=args.start,
                                    compress=compress, progress=progress)
    finally:
        bar.close()
    print(f"wrote {len(written)} image(s) to {out} ({written[0].name} .. {written[-1].name}), "
          f"labels in {out / ANNOTATIONS_NAME} and {out / TRUTH_NAME}")
    return 0
