"""`hipvision train PROJECT|FOLDER`: train the two-stage keypoint model.

PROJECT is a HipVision project folder (its train/val splits are used and the model is added
to the project, activated if it beats the active one on validation); FOLDER is any folder
with an annotations.json (COCO keypoints, e.g. `hipvision phantom` output), split 90/10 by
file name. Runs on several GPUs under `accelerate launch -m hipvision train ...`.
"""

from __future__ import annotations

import sys

from hipvision.commands._config_flags import add_config_flags, config_kwargs


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


def augment_arg(text: str):
    """--augment: 'off', or AugmentConfig fields as name=value,... (the rest keep their defaults)."""
    import dataclasses

    from hipvision.ml.data import AugmentConfig

    if text.strip().lower() == "off":
        return AugmentConfig.off()
    kinds = {f.name: type(f.default) for f in dataclasses.fields(AugmentConfig)}
    values = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        if name not in kinds or not value:
            raise ValueError(f"--augment: expected 'off' or name=value with a name in {', '.join(kinds)}, "
                             f"got {item!r}")
        kind = kinds[name]
        values[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return AugmentConfig(**values)


FLAG_NAMES = {"output": "--out", "num_workers": "--workers", "save_half": "--half"}


def register(sub) -> None:
    p = sub.add_parser("train", help="train the keypoint model on a project or a labelled folder",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("path", metavar="PROJECT|FOLDER")
    from hipvision.ml.training.config import TrainConfig

    # Every TrainConfig field is a flag; these keep the spellings they had before.
    add_config_flags(p, TrainConfig, names=FLAG_NAMES, types_={"synthetic_share": share_arg, "augment": str})
    p.add_argument("--activate", choices=("if-better", "yes", "no"), default="if-better",
                   help="make the new model the project's active one (default: only if it is better on validation)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import logging
    from pathlib import Path

    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.atomic import failed_write
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
        kw = config_kwargs(args, TrainConfig)
        if "augment" in kw:
            kw["augment"] = augment_arg(kw["augment"])
        config = TrainConfig(**kw)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if project is not None and project.read_only:
        # The vet's corrections are in this project, so train on them; only the model cannot go there.
        if config.output is None:
            project.close()
            raise CommandError(f"cannot save a model into the project: {project.location.notice}; give "
                               "--out FILE.safetensors to train on its annotations all the same")
        print(f"note: {project.location.notice}; the model is written to {config.output} only",
              file=sys.stderr)
    if getattr(args, "init_from", None) and getattr(args, "backbone", None):
        print("note: --init-from uses the architecture of that model; --backbone is ignored", file=sys.stderr)
    config = _resolve_output(config, project)

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

    from hipvision.ml.leftovers import run_lock

    with run_lock(config.output):  # held until the model is registered: no cleanup takes it before
        try:
            result = train_keypoints(config, project if project is not None else path, progress=progress,
                                     metrics=metrics)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            # torch.save on a full disk raises a RuntimeError (safetensors its own error), not an
            # OSError: name the file it was writing. (OSErrors arrive as WriteError, handled by the CLI.)
            written = failed_write(exc)
            if written is None:
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CommandError(f"cannot write {written}: {reason}") from None
        finally:
            bar.close()
        return _report(args, result, project)


def _resolve_output(config, project):
    """The run's model file; with --resume, say which run continues from which epoch, or that
    there is nothing to resume (the run then starts at epoch 1)."""
    from dataclasses import replace

    from hipvision.cli import CommandError
    from hipvision.ml.checkpoint import CheckpointError
    from hipvision.ml.training.state import epochs_done, state_path
    from hipvision.ml.training.steps import run_output

    output = run_output(config, project)
    if config.resume:
        state = state_path(output)
        if not state.is_file():
            where = f"{state} does not exist" if config.output else f"no interrupted run in {output.parent}"
            print(f"nothing to resume ({where}): training from epoch 1", file=sys.stderr)
        else:
            try:
                done = epochs_done(state)
            except CheckpointError as exc:
                raise CommandError(str(exc)) from None
            print(f"resuming {state}: {done} of {config.epochs} epochs done, continuing at epoch {done + 1}",
                  file=sys.stderr)
    return replace(config, output=str(output))


def _report(args, result, project) -> int:
    if not result.main_process:  # another rank of `accelerate launch`: the main one reports and registers
        return 0
    mae = result.metrics.get("val_na_mae")
    print(f"saved {result.checkpoint} (best epoch {result.best_epoch}"
          + (f", validation NA MAE {mae:.2f}°" if mae is not None else "") + f", {result.seconds / 60:.1f} min)")
    if project is not None and project.read_only:
        project.close()
    elif project is not None:
        from hipvision.ml.registry import register_model

        activate = {"if-better": "if_better", "yes": True, "no": False}[args.activate]
        reg = register_model(project, result.checkpoint, activate=activate, name=getattr(args, "name", None))
        print(f"added to the project as model {reg.record.id}"
              + (" and activated" if reg.activated else " (not activated)") + f": {reg.reason}")
        project.close()
    return 0
