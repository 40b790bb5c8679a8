"""Few-shot retrain on a simulated clinic: NA error on 100 of its radiographs after the
Retrain button's job saw K of its corrected ones (see hipvision/ml/clinic_sim.py).

    hipvision bench retrain [--style clinic-b] [--shots 3,6,12,24] [--test 100] [--synthetic 0,N]

Resumable: finished arms are kept in WORK/results.json and skipped on the next run.
"""

from __future__ import annotations

DESCRIPTION = "few-shot retrain on a simulated clinic: NA MAE on its other images after K corrections"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def add_arguments(p) -> None:
    p.add_argument("--work", default="bench-retrain", help="folder for images, projects and results.json "
                                                            "(default ./bench-retrain)")
    p.add_argument("--style", default="clinic-b", help="phantom style standing in for the clinic (default clinic-b)")
    p.add_argument("--shots", type=_ints, default=(3, 6, 12, 24), help="corrected images per arm (default 3,6,12,24)")
    p.add_argument("--test", type=int, default=100, help="the clinic's other images scored (default 100)")
    p.add_argument("--size", type=int, default=768, help="image side in px (default 768)")
    p.add_argument("--seed", type=int, default=2027, help="the clinic's images (default 2027)")
    p.add_argument("--synthetic", type=_ints, default=(0,),
                   help="generated images per arm, comma-separated (default 0; e.g. 0,32 for both arms)")
    p.add_argument("--model", help="starting model (default: the bundled one)")
    p.add_argument("--threads", type=int, help="CPU threads")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", help="also write the table (markdown) here")


def run(args) -> int:
    import sys

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.atomic import write_text_atomic
    from hipvision.ml.clinic_sim import ClinicConfig, markdown, run_clinic

    try:
        config = ClinicConfig(work=args.work, style=args.style, shots=args.shots, test=args.test, size=args.size,
                              seed=args.seed, synthetic=args.synthetic, model=args.model, threads=args.threads,
                              device=args.device)
    except ValueError as exc:
        raise CommandError(str(exc).replace("ClinicConfig.", "")) from None
    bar = tqdm(total=1000, file=sys.stderr, desc="clinic", leave=False)

    def progress(done: int, total: int, msg: str) -> None:
        bar.n = int(1000 * done / max(total, 1))
        bar.set_postfix_str(msg[:60])
        bar.refresh()

    try:
        result = run_clinic(config, progress=progress)
    finally:
        bar.close()
    text = markdown(config, result)
    print(text, end="")
    if args.out:
        write_text_atomic(args.out, text)
    return 0
