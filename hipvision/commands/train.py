"""`hipvision train PROJECT|FOLDER`: train the two-stage keypoint model.

PROJECT is a HipVision project folder (its train/val splits are used and the model is added
to the project, activated if it beats the active one on validation); FOLDER is any folder
with an annotations.json (COCO keypoints, e.g. `hipvision phantom` output), split 90/10 by
file name. Runs on several GPUs under `accelerate launch -m hipvision train ...`.
"""

from __future__ import annotations

import sys


def share_arg(text: str) -> float | None:
    """--synthetic-share: a fraction in [0, 1], or 'count' (None: in proportion to their number)."""
    import argparse

    if text.strip().lower() == "count":
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1] or 'count', got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1] or 'count', got {text!r}")
    return v


def add_synthetic_mix_args(p, whose: str) -> None:
    """--synthetic-share / --synthetic-until (TrainConfig.synthetic_share / synthetic_until)."""
    from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL

    p.add_argument("--synthetic-share", type=share_arg, default=DEFAULT_SHARE, metavar="F|count",
                   help=f"share of each epoch's samples drawn from {whose}, or 'count' (in proportion to "
                        f"their number, the poster's way); default {DEFAULT_SHARE}")
    p.add_argument("--synthetic-until", type=float, default=DEFAULT_UNTIL, metavar="F",
                   help="share of the epochs that use synthetic images; the rest fine-tune on real images "
                        f"only (1: all epochs); default {DEFAULT_UNTIL}")


def register(sub) -> None:
    p = sub.add_parser("train", help="train the keypoint model on a project or a labelled folder",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("path", metavar="PROJECT|FOLDER")
    p.add_argument("--backbone", default=None, help="zoo backbone (see `hipvision models`); default resnet18")
    p.add_argument("--stage2-backbone", default=None, help="backbone of the hip-crop stage (default: --backbone)")
    p.add_argument("--head", choices=("heatmap", "regression"), default="heatmap")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--input-size", type=int, default=256, help="whole-image input side (multiple of 32)")
    p.add_argument("--crop-size", type=int, default=160, help="hip-crop input side (multiple of 32)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=int, default=10, help="early stopping patience in epochs (0: off)")
    p.add_argument("--min-samples-per-epoch", type=int, default=0,
                   help="repeat small data sets (augmented) to at least this many samples per epoch")
    p.add_argument("--crops-per-hip", type=int, default=1, help="hip crops per hip per sample (stage 2)")
    p.add_argument("--ema", action="store_true", help="keep an exponential moving average of the weights")
    p.add_argument("--ema-decay", type=float, default=0.998)
    add_synthetic_mix_args(p, "the project's synthetic images (no effect without any)")
    p.add_argument("--no-pretrained", action="store_true", help="random initialisation (no ImageNet weights)")
    p.add_argument("--init-from", help="warm start from this .safetensors model (its architecture is used)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run (same --out)")
    p.add_argument("--out", help="model file (.safetensors); default: the project's models folder or ./")
    p.add_argument("--name", help="model name (default: the file name)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
    p.add_argument("--workers", type=int, default=0, help="data-loading worker processes")
    p.add_argument("--activate", choices=("if-better", "yes", "no"), default="if-better",
                   help="make the new model the project's active one (default: only if it is better on validation)")
    p.add_argument("--trained-on", default=None, help="label stored with the model (e.g. phantoms)")
    p.add_argument("--half", action="store_true", help="store float16 weights (half the file size)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import logging
    from pathlib import Path

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.store import find_project
    from hipvision.ml.checkpoint import CheckpointError
    from hipvision.ml.training import TrainConfig, train_keypoints

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    path = Path(args.path)
    if not path.exists():
        raise CommandError(f"{path}: no such folder")
    project = find_project(path)
    if project is None and not (path / "annotations.json").is_file() and not path.suffix == ".json":
        raise CommandError(f"{path}: neither a HipVision project (run `hipvision import {path}`) "
                           "nor a folder with annotations.json")
    try:
        config = TrainConfig(
            backbone=args.backbone or "resnet18", stage2_backbone=args.stage2_backbone, head=args.head,
            epochs=args.epochs, batch_size=args.batch_size, input_size=args.input_size, crop_size=args.crop_size,
            lr=args.lr, seed=args.seed, patience=args.patience, min_samples_per_epoch=args.min_samples_per_epoch,
            ema=args.ema, ema_decay=args.ema_decay, crops_per_hip=args.crops_per_hip,
            synthetic_share=args.synthetic_share, synthetic_until=args.synthetic_until,
            pretrained=not args.no_pretrained, init_from=args.init_from, resume=args.resume,
            output=args.out, name=args.name, device=args.device, threads=args.threads, num_workers=args.workers,
            trained_on=args.trained_on, save_half=args.half,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.init_from and args.backbone:
        print("note: --init-from uses the architecture of that model; --backbone is ignored", file=sys.stderr)

    from hipvision.commands._progress import tqdm_progress

    bar, progress = tqdm_progress("train", disable=args.quiet)

    def metrics(epoch, values):
        v = values.get("val_na_mae", values.get("train_na_mae"))
        line = f"epoch {epoch}: loss {values.get('loss', float('nan')):.4f}" + \
            (f", validation NA MAE {v:.2f}°" if v is not None else "")
        if args.quiet:
            print(line, file=sys.stderr, flush=True)
        else:
            tqdm.write(line, file=sys.stderr)

    try:
        result = train_keypoints(config, project if project is not None else path, progress=progress,
                                 metrics=metrics)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    finally:
        bar.close()
    if not result.main_process:  # another rank of `accelerate launch`: the main one reports and registers
        return 0
    mae = result.metrics.get("val_na_mae")
    print(f"saved {result.checkpoint} (best epoch {result.best_epoch}"
          + (f", validation NA MAE {mae:.2f}°" if mae is not None else "") + f", {result.seconds / 60:.1f} min)")
    if project is not None:
        from hipvision.ml.registry import register_model

        activate = {"if-better": "if_better", "yes": True, "no": False}[args.activate]
        reg = register_model(project, result.checkpoint, activate=activate, name=args.name)
        print(f"added to the project as model {reg.record.id}"
              + (" and activated" if reg.activated else " (not activated)") + f": {reg.reason}")
        project.close()
    return 0
