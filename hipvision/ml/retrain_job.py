"""The one-click Retrain (and `hipvision retrain`): fine-tune the active model on the
project's corrected images, judge it honestly, activate it only if it is better.

How it trains comes from `few_shot.plan_for(number of corrected images)`; how it is judged
from `promotion` (the validation images when there are enough, else cross-validation on the
corrected images). A cancel or a failure leaves the project as it was: the new checkpoint is
registered only after training and judging finished, and everything the job wrote is removed.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from hipvision.core.jobs import check_cancel
from hipvision.core.store import Project
from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix
from hipvision.ml.job_results import RetrainResult
from hipvision.ml.promotion import MAX_FOLDS, MIN_VAL_IMAGES

# Fewer corrected real images than this cannot make a better model than the bundled one.
MIN_TRAIN_IMAGES = 3


@dataclass(frozen=True)
class RetrainJob:
    project_dir: str
    epochs: int | None = None  # None: chosen from the number of corrected images (few_shot.plan_for)
    backbone: str | None = None  # None: the active model's (warm start)
    input_size: int | None = None
    batch_size: int = 8
    seed: int = 0
    warm_start: bool = True
    activate: str | bool = "if_better"  # or True ("use it anyway") / False
    min_train_images: int = MIN_TRAIN_IMAGES
    min_val_images: int = MIN_VAL_IMAGES  # fewer: cross-validate on the corrected images instead
    device: str = "auto"
    threads: int | None = None
    out: str | None = None  # also write the new model (.safetensors + sidecar) here, promoted or not
    phantoms: int | None = None  # phantoms mixed in (None: the plan's)
    synthetic: int = 0  # first train a conditional generator on the corrected images and add this many
    generator: dict = field(default_factory=dict)  # DenoiserTrainConfig fields for it (tests: tiny settings)
    synthetic_share: float | None = DEFAULT_SHARE  # how the project's synthetic images are mixed in
    synthetic_until: float = DEFAULT_UNTIL
    extra: dict = field(default_factory=dict)  # further TrainConfig fields (tests: tiny settings)

    def __post_init__(self) -> None:
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ValueError(f"RetrainJob.epochs must be a positive int or None, got {self.epochs!r}")
        check_mix(self.synthetic_share, self.synthetic_until, "RetrainJob.")
        if self.activate not in ("if_better", True, False):
            raise ValueError(f"RetrainJob.activate must be 'if_better', True or False, got {self.activate!r}")
        if self.out is not None and not str(self.out).endswith(".safetensors"):
            raise ValueError(f"RetrainJob.out must end in .safetensors, got {self.out!r}")
        if isinstance(self.synthetic, bool) or not isinstance(self.synthetic, int) or self.synthetic < 0:
            raise ValueError(f"RetrainJob.synthetic must be an int >= 0, got {self.synthetic!r}")
        if self.phantoms is not None and (not isinstance(self.phantoms, int) or self.phantoms < 0):
            raise ValueError(f"RetrainJob.phantoms must be an int >= 0 or None, got {self.phantoms!r}")


def button_job(project_dir: str, settings, **overrides) -> RetrainJob:
    """The Retrain button's job for a project under the app's settings (compute device and the
    synthetic-image mix from Preferences). `hipvision retrain` builds its job here too, so the
    headless command and the button cannot drift apart; `overrides` are the command's flags."""
    fields = {"device": settings.device, "synthetic_share": settings.synthetic_share,
              "synthetic_until": settings.synthetic_until}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return RetrainJob(str(project_dir), **fields)


class _Phases:
    """One progress bar over several trainings: phase i of n maps (done, total) into its slice."""

    def __init__(self, progress, n: int):
        self.progress, self.n, self.i = progress, max(1, n), 0

    def __call__(self, done: int, total: int, msg: str) -> None:
        if self.progress is not None:
            frac = (self.i + (done / total if total else 1.0)) / self.n
            self.progress(int(round(1000 * min(frac, 1.0))), 1000, msg)

    def next(self) -> None:
        self.i += 1


def _train_config(config: RetrainJob, plan, active, output: Path, *, cross: bool, has_synthetic: bool):
    from hipvision.ml.training import TrainConfig

    kw = plan.train_fields()
    if config.epochs is not None:
        kw["epochs"] = config.epochs
    if config.warm_start and active is not None and Path(active.abs_file).is_file():
        kw["init_from"] = str(active.abs_file)
    if config.backbone:
        if active is None or config.backbone != active.backbone:
            kw.pop("init_from", None)  # other architecture: the active weights do not fit
        kw["backbone"] = config.backbone
    if config.input_size:
        kw["input_size"] = config.input_size
    # Phantoms alone: the plan's share; with generated images too, the user's mix for all of them.
    share = config.synthetic_share if has_synthetic else plan.phantom_share
    kw.update(batch_size=config.batch_size, seed=config.seed, device=config.device, threads=config.threads,
              output=str(output), trained_on="project", pretrained=False, synthetic_share=share,
              synthetic_until=config.synthetic_until if has_synthetic else 1.0, val_splits=() if cross else ("val",))
    kw.update(config.extra)
    return TrainConfig(**kw)


def _judged(config, plan, active, output, cross, corrected, phantoms, val_s, phases, cancel):
    """(comparison, activate, reason): the new model judged against the active one. An active
    model that cannot be loaded must not block the new one: it is then activated, saying why."""
    from hipvision.ml.checkpoint import CheckpointError

    try:
        comparison = _judge(config, plan, active, output, cross, corrected, phantoms, val_s, phases, cancel)
    except CheckpointError as exc:
        return None, True, f"the active model cannot be loaded ({exc})"
    return (comparison, *_decision(config, active, comparison))


def retrain(config: RetrainJob, *, progress=None, cancel=None, metrics=None) -> RetrainResult:
    """Train from the corrected images (warm start from the active model), judge against the
    active model, activate only if better, then re-predict the images no person annotated."""
    from hipvision.ml.app_jobs import PredictJob, ensure_default_model, predict_images
    from hipvision.ml.data import samples_from_project
    from hipvision.ml.few_shot import phantom_samples, plan_for
    from hipvision.ml.leftovers import remove_leftovers, run_lock
    from hipvision.ml.registry import register_model
    from hipvision.ml.synthetic_retrain import add_synthetic
    from hipvision.ml.training import train_keypoints

    t_wall = time.time()
    with Project.open(config.project_dir, create=False) as project:
        ensure_default_model(project)
        val_s = samples_from_project(project, ("val",))  # real only: the store's rule
        n_real = len(project.labelled(("train",), source="real")) + len(val_s)
        if n_real < config.min_train_images:
            raise ValueError(f"only {n_real} edited or verified images; label at least "
                             f"{config.min_train_images} before retraining")
        plan = plan_for(n_real)
        cross = len(val_s) < config.min_val_images
        judge_old = project.active_model() is not None and config.activate == "if_better"
        phases = _Phases(progress, 1 + bool(config.synthetic) + (min(MAX_FOLDS, n_real) if cross and judge_old else 0))
        made = None
        if config.synthetic:
            made = add_synthetic(config.project_dir, config.synthetic, n_images=n_real, device=config.device,
                                 seed=config.seed, generator=config.generator, progress=phases, cancel=cancel)
            phases.next()
        train_s = samples_from_project(project, ("train",))
        real_train = [s for s in train_s if s.source == "real"]
        synthetic = [s for s in train_s if s.source != "real"]
        # Cross-validated: every corrected image trains the final model, none is held back.
        corrected = real_train + [replace(s, split="train") for s in val_s] if cross else real_train
        phantoms = phantom_samples(plan.phantoms if config.phantoms is None else config.phantoms)
        active = project.active_model()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        output = project.models_dir / f"model-{stamp}-{os.getpid()}.safetensors"
        train_cfg = _train_config(config, plan, active, output, cross=cross, has_synthetic=bool(synthetic))
        # The files of this job are locked until it registered its model, so a cleanup (another
        # job's start, `hipvision models --clean`) cannot take them; what killed jobs left goes now.
        with run_lock(output):
            remove_leftovers(project, before=t_wall)
            try:
                result = train_keypoints(train_cfg, corrected + synthetic + phantoms + ([] if cross else val_s),
                                         progress=phases, cancel=cancel, metrics=metrics)
                check_cancel(cancel)  # a cancel after the last batch still means "keep what I had"
                comparison, activate, reason = _judged(config, plan, active, output, cross, corrected, phantoms,
                                                       val_s, phases, cancel) if judge_old \
                    else (None, *_decision(config, active, None))
                extra = _comparison_metrics(comparison)
                name = f"retrained {datetime.now().strftime('%Y-%m-%d %H:%M')}"
                check_cancel(cancel)
                reg = register_model(project, result.checkpoint, activate=activate, name=name, reason=reason,
                                     metrics=extra)
            except BaseException:
                _remove_checkpoint(output)  # nothing of a cancelled/failed job stays behind
                raise
        if config.out:
            _copy_model(output, Path(config.out))
        repredicted: tuple[int, ...] = ()
        if reg.activated:
            repredicted = predict_images(PredictJob(config.project_dir, device=config.device), progress=progress,
                                         cancel=None).predicted
        mae = result.val_na_mae
        return RetrainResult(
            model_id=reg.record.id, name=reg.record.name, activated=reg.activated, reason=reg.reason,
            val_na_mae=None if mae is None or not math.isfinite(mae) else mae,
            new_val_na_mae=None if comparison is None else comparison.new_mae,
            old_val_na_mae=None if comparison is None else comparison.old_mae,
            val_images=None if comparison is None else len(comparison.images),
            training_val_images=result.metrics.get("val_images"), kept_epoch=result.metrics.get("best_epoch"),
            train_images=len(corrected), epochs_run=result.epochs_run, repredicted=repredicted,
            seconds=result.seconds, basis="none" if comparison is None else comparison.basis,
            folds=0 if comparison is None else comparison.folds,
            plan=replace(plan, phantoms=len(phantoms)).summary(), out=config.out,
            synthetic=0 if made is None else made.accepted, synthetic_summary="" if made is None else made.summary)


def _judge(config, plan, active, output, cross, corrected, phantoms, val_s, phases, cancel):
    """The comparison with the active model: on the validation images, or cross-validated."""
    from hipvision.ml.promotion import compare_on_validation, cross_validate
    from hipvision.ml.training import train_keypoints

    if not cross:
        return compare_on_validation(active.abs_file, output, val_s, device=config.device, cancel=cancel)

    def train_fold(samples, out: Path, fold: int) -> Path:
        # The final model's recipe and budget on a fold's images: the estimate is of that recipe.
        phases.next()
        phases(0, 1, f"cross-validating: fold {fold + 1} of {min(MAX_FOLDS, len(corrected))}")
        cfg = replace(_train_config(config, plan, active, out, cross=True, has_synthetic=False),
                      seed=config.seed + 1 + fold)
        return train_keypoints(cfg, list(samples) + phantoms, progress=phases, cancel=cancel).checkpoint

    return cross_validate(active.abs_file, corrected, train_fold, device=config.device, cancel=cancel)


def _decision(config: RetrainJob, active, comparison) -> tuple[bool, str]:
    if config.activate != "if_better":
        return bool(config.activate), "as requested"
    if active is None:
        return True, "no model was active"
    return comparison.better, comparison.reason


def _comparison_metrics(comparison) -> dict:
    if comparison is None:
        return {}
    return {"val_na_mae_at_registration": comparison.new_mae, "val_images_at_registration": len(comparison.images),
            "old_na_mae_at_registration": comparison.old_mae, "comparison_basis": comparison.basis,
            "comparison_folds": comparison.folds}


def _copy_model(weights: Path, dest: Path) -> None:
    """`--out`: the weights and the sidecar, each written under a temporary name first."""
    from hipvision.ml.checkpoint import sidecar_path

    dest.parent.mkdir(parents=True, exist_ok=True)
    for src, dst in ((weights, dest), (sidecar_path(weights), sidecar_path(dest))):
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def _remove_checkpoint(weights: Path) -> None:
    from hipvision.ml.checkpoint import sidecar_path
    from hipvision.ml.training import state_path

    for p in (weights, sidecar_path(weights), state_path(weights)):
        Path(p).unlink(missing_ok=True)
