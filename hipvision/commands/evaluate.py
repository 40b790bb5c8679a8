"""`hipvision evaluate PROJECT|FOLDER`: NA and landmark errors of a model on labelled images."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="score a keypoint model on a project's split or a labelled folder",
                       description="Predicts every labelled image of the chosen split(s) and reports NA MAE, NA "
                                   "MAPE, landmark errors (px, mm), share within 5/10 degrees and grade agreement. "
                                   "A FOLDER with annotations.json is evaluated whole.")
    p.add_argument("path", metavar="PROJECT|FOLDER")
    p.add_argument("--model", help="a .safetensors file, 'default', or a project model id/name "
                                   "(default: the project's active model, else the bundled one)")
    p.add_argument("--split", action="append", choices=("train", "val", "test"),
                   help="split(s) to evaluate (repeatable; default: test)")
    p.add_argument("--report", help="write the markdown report here (it is printed either way)")
    p.add_argument("--csv", help="write one row per hip here")
    p.add_argument("--no-tta", action="store_true")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.store import find_project
    from hipvision.ml.checkpoint import CheckpointError
    from hipvision.ml.evaluate import evaluate
    from hipvision.ml.predict import Predictor

    path = Path(args.path)
    project = find_project(path)
    if project is None and not (path / "annotations.json").is_file():
        raise CommandError(f"{path}: neither a HipVision project nor a folder with annotations.json")
    try:
        predictor = Predictor.resolve(args.model, project, device=args.device, tta=not args.no_tta)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    bar = tqdm(unit="img", desc="evaluate", file=sys.stderr, leave=False)

    def progress(done, total, msg):
        bar.total = total
        bar.n = done
        bar.refresh()

    report = evaluate(predictor, project if project is not None else path, splits=tuple(args.split or ["test"]),
                      progress=progress)
    bar.close()
    if project is not None:
        project.close()
    if not any(m.get("hips") for m in report.by_split.values()):
        raise CommandError(f"{path}: no labelled images in split(s) {', '.join(args.split or ['test'])}")
    text = report.to_markdown()
    sys.stdout.write(text)
    if args.report:
        report.write_markdown(args.report)
        print(f"wrote {args.report}", file=sys.stderr)
    if args.csv:
        report.write_csv(args.csv)
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0
