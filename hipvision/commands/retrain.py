"""`hipvision retrain PROJECT`: exactly the job the Retrain button runs, headless."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "retrain", help="retrain the project's model from its corrected images (the Retrain button, headless)",
        description="Fine-tunes the project's active model on its edited and verified images with the Retrain "
                    "button's own job and defaults (the recipe follows the number of corrected images), compares "
                    "the new model with the active one (on the validation images, or cross-validated on the "
                    "corrected images when there are fewer than five), activates it only if it is better, and "
                    "re-predicts the images no person annotated.")
    p.add_argument("project", metavar="PROJECT", help="project folder")
    p.add_argument("--out", help="also write the new model (.safetensors + sidecar .json) here, promoted or not")
    p.add_argument("--epochs", type=int, help="epochs (default: chosen from the number of corrected images)")
    p.add_argument("--threads", type=int, help="CPU threads (default: cores - 1)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda[:N] or mps (default: the app's preference)")
    p.add_argument("--synthetic", type=int, default=0, metavar="N",
                   help="first train a conditional generator on the corrected images and add N of its labelled "
                        "images to the training set (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.core.store import find_project

    folder = Path(args.project)
    project = find_project(folder) if folder.is_dir() else None
    if project is None:
        raise CommandError(f"{folder}: no HipVision project here (open the folder in the app or run "
                           "`hipvision import` first)")
    root, notice = str(project.root), project.location.notice
    project.close()
    if project.read_only:  # retraining adds a model and re-predicts: both are writes
        raise CommandError(f"cannot retrain: {notice}")
    from hipvision.commands._progress import tqdm_progress
    from hipvision.core.settings import load_settings
    from hipvision.ml.checkpoint import CheckpointError
    from hipvision.ml.retrain_job import button_job, retrain

    try:
        config = button_job(root, load_settings(), epochs=args.epochs, threads=args.threads, out=args.out,
                            seed=args.seed, device=args.device, synthetic=args.synthetic)
    except ValueError as exc:
        raise CommandError(str(exc).replace("RetrainJob.", "")) from None
    bar, progress = tqdm_progress("retrain", disable=args.quiet)
    try:
        result = retrain(config, progress=progress)
    except (ValueError, CheckpointError) as exc:
        raise CommandError(f"{folder}: {exc}") from None
    finally:
        bar.close()
    print(f"trained model {result.model_id} ({result.name}) on {result.train_images} corrected images in "
          f"{result.seconds:.0f} s: {result.plan}")
    if result.out:
        print(f"wrote {result.out}")
    if result.repredicted:
        print(f"re-predicted {len(result.repredicted)} image(s) with it")
    print(("promoted: it is now the active model — " if result.activated else "not promoted: the active model "
           "stays — ") + result.reason, file=sys.stdout)
    return 0
