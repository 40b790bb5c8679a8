"""Prediction speed: file -> Norberg angles for one 4,300 x 4,300 radiograph on the CPU.

Times the whole path a user waits for — decode (reduced where the format allows), stage 1,
both stage-2 hip crops with their refinement, flip TTA — as the Predictor runs it, for a
16-bit PNG (no reduced decode: every pixel is inflated), an 8-bit JPEG (decoded at 1/2 or 1/4
by libjpeg) and an uncompressed 16-bit DICOM, then the per-image time of a batch. The phantom
is padded to a square. Reports medians and ratios from this run only. Goal: <= 300 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

DESCRIPTION = "seconds from a 4,300-px radiograph file to its Norberg angles (CPU), single and batched"
GOAL_MS = 300.0


def add_arguments(p) -> None:
    p.add_argument("--model", help="a .safetensors model (default: the bundled one)")
    p.add_argument("--size", type=int, default=4300, help="radiograph side in pixels")
    p.add_argument("--repeats", type=int, default=7, help="timed single predictions per format (median)")
    p.add_argument("--batch", type=int, default=8, help="images per batch for the throughput figure")
    p.add_argument("--formats", default="png,jpeg,dicom", help="comma-separated: png, jpeg, dicom")
    p.add_argument("--threads", type=int, help="CPU threads (default: OMP_NUM_THREADS or cores - 1)")
    p.add_argument("--no-tta", action="store_true", help="time without flip test-time augmentation")
    p.add_argument("--device", default="cpu")


def _write(case, folder: Path, fmt: str) -> Path:
    import cv2
    import numpy as np

    px = case.pixels
    if fmt == "png":
        path = folder / "radiograph.png"
        cv2.imwrite(str(path), px if px.dtype == np.uint16 else px.astype(np.uint16))
    elif fmt == "jpeg":
        path = folder / "radiograph.jpg"
        lo, hi = np.percentile(px, [0.5, 99.5])
        img8 = np.clip((px.astype(np.float32) - lo) / max(hi - lo, 1) * 255, 0, 255).astype(np.uint8)
        cv2.imwrite(str(path), img8, [cv2.IMWRITE_JPEG_QUALITY, 92])
    elif fmt == "dicom":
        from hipvision.core.dicom_write import write_dicom

        path = folder / "radiograph.dcm"
        write_dicom(path, px, spacing=case.spacing)
    else:
        raise ValueError(f"unknown format {fmt!r}; use png, jpeg or dicom")
    return path


def run(args) -> int:
    import numpy as np

    from hipvision.bench.timing import summary_ms
    from hipvision.core.radiograph import load_radiograph
    from hipvision.ml.device import set_cpu_threads
    from hipvision.ml.predict import Predictor
    from hipvision.phantom import PhantomConfig, render_phantom

    threads = set_cpu_threads(args.threads)
    kw = dict(device=args.device, tta=not args.no_tta, threads=threads)
    predictor = Predictor.load(args.model, **kw) if args.model else Predictor.default(**kw)
    print(f"model: {predictor.description}; device {predictor.device}, {threads} thread(s), "
          f"TTA {'off' if args.no_tta else 'on'}")
    t = time.perf_counter()
    case = render_phantom(20240611, PhantomConfig(size=args.size))
    h, w = case.pixels.shape
    if w != h:  # phantoms are portrait: pad on the right (landmarks unchanged) to a square radiograph
        from dataclasses import replace

        side = max(h, w)
        fill = np.percentile(case.pixels, 1).astype(case.pixels.dtype)
        padded = np.full((side, side), fill, dtype=case.pixels.dtype)
        padded[:h, :w] = case.pixels
        case = replace(case, pixels=padded)
    truth = case.landmarks.norberg_angles()
    print(f"phantom {case.pixels.shape[1]}x{case.pixels.shape[0]} rendered in {time.perf_counter() - t:.1f} s; "
          f"true NA left {truth['left']:.2f}°, right {truth['right']:.2f}°")
    medians = {}
    with tempfile.TemporaryDirectory(prefix="hipvision-bench-") as tmp:
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            path = _write(case, Path(tmp), fmt)
            side = predictor.decode_side()
            decode = []
            for _ in range(3):
                t = time.perf_counter()
                rg = load_radiograph(path, max_side=side)
                decode.append(time.perf_counter() - t)
            single = []
            pred = predictor.predict(path)  # warm-up
            for _ in range(args.repeats):
                t = time.perf_counter()
                pred = predictor.predict(path)
                single.append(time.perf_counter() - t)
            err = max(abs(pred.na[s] - truth[s]) for s in ("left", "right"))
            paths = [path] * args.batch
            batch = []
            for _ in range(max(1, args.repeats // 3)):
                t = time.perf_counter()
                predictor.predict_batch(paths, batch_size=args.batch)
                batch.append((time.perf_counter() - t) / args.batch)
            medians[fmt] = statistics.median(single)
            print(f"\n[{fmt}] {path.stat().st_size / 1e6:.1f} MB, decoded at {rg.pixels.shape[1]}x{rg.pixels.shape[0]} "
                  f"(max_side {side})")
            print(f"  decode only:            {summary_ms(decode)}")
            print(f"  file -> NA, one image:  {summary_ms(single)}  "
                  f"[{'meets' if medians[fmt] * 1000 <= GOAL_MS else 'misses'} the {GOAL_MS:.0f} ms goal]")
            print(f"  file -> NA, batch of {args.batch}: {statistics.median(batch) * 1000:.1f} ms per image "
                  f"({statistics.median(batch) / medians[fmt]:.2f}x the single-image time)")
            print(f"  decode share of the single-image time: {statistics.median(decode) / medians[fmt] * 100:.0f} %")
            print(f"  NA error on this phantom: {err:.2f}° (max of both hips)")
    if len(medians) > 1:
        base = next(iter(medians))
        print("\nratios to " + base + ": " + ", ".join(f"{f} {m / medians[base]:.2f}x" for f, m in medians.items()))
    return 0 if np.isfinite(list(medians.values())).all() else 1
