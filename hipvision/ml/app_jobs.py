"""The work the app's engine runs: predict images, one-click retrain.

Plain `fn(config, *, progress, cancel, ...)` functions (no Qt), so the GUI engine, the
CLI and the tests call the same code; each returns a frozen record of `job_results`. Each
job opens the project itself: sqlite connections belong to the thread that made them, and
the engine runs jobs in its own thread.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hipvision.core.jobs import check_cancel
from hipvision.core.records import LABELLED_STATUSES
from hipvision.core.store import Project
from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix
from hipvision.ml.job_results import GenerateResult, GeneratorTrainResult, PredictResult, RetrainResult

# Loading a model costs seconds; the engine thread reuses it while the file is unchanged.
_predictor_cache: dict[tuple[str, float, str], object] = {}
_cache_lock = threading.Lock()

# Fewer labelled training images than this cannot make a better model than the phantom one.
MIN_TRAIN_IMAGES = 4


def predictor_for(project: Project, device: str = "auto"):
    from hipvision.ml.predict import Predictor

    rec = project.active_model()
    path = Path(rec.abs_file) if rec is not None else Predictor.default_path()
    key = (str(path), path.stat().st_mtime if path.exists() else 0.0, device)
    with _cache_lock:
        pred = _predictor_cache.get(key)
        if pred is None:
            pred = Predictor.load(path, device=device)
            _predictor_cache.clear()  # keep one model in memory, not every model ever used
            _predictor_cache[key] = pred
    return pred, (rec.id if rec is not None else "default")


def ensure_default_model(project: Project):
    """Record the bundled phantom model in the project once, so it is listed, comparable,
    and can be reverted to after a retrain. Torch-free (sidecar only): it runs when a project
    opens, before any model is needed."""
    from hipvision.core.resources import default_model_dir
    from hipvision.ml.sidecar import DEFAULT_MODEL_FILE, read_sidecar

    for rec in project.models():
        if rec.kind == "default":
            return rec
    path = default_model_dir() / DEFAULT_MODEL_FILE
    if not path.is_file():
        return None

    meta = read_sidecar(path)
    return project.add_model(
        name="phantom default", backbone=meta["stage1"]["backbone"], file=path, kind="default",
        data_summary=meta.get("data_summary") or {}, metrics=meta.get("metrics") or {},
        activate=project.active_model() is None)


@dataclass(frozen=True)
class PredictJob:
    project_dir: str
    image_ids: tuple[int, ...] | None = None  # None: every image without a person's annotation
    device: str = "auto"  # the preferences' compute device

    def __post_init__(self) -> None:
        if not str(self.project_dir):
            raise ValueError("PredictJob.project_dir must name the project folder")


def predict_images(config: PredictJob, *, progress=None, cancel=None) -> PredictResult:
    """Predict images and store the results as model revisions; never touches an image a
    person edited or verified (the store checks that inside the write transaction)."""
    with Project.open(config.project_dir, create=False) as project:
        ensure_default_model(project)
        predictor, model_id = predictor_for(project, config.device)
        if config.image_ids is None:
            recs = project.images(status=("new", "predicted"))
        else:
            recs = [project.image(i) for i in config.image_ids]
        recs = [r for r in recs if r.error is None and r.status not in LABELLED_STATUSES]
        done: list[int] = []
        skipped: list[int] = []
        failed: list[tuple[int, str]] = []
        for i, rec in enumerate(recs):
            check_cancel(cancel)
            try:
                pred = predictor.predict(rec.abs_path, rec.mapping)
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop "Predict all"
                failed.append((rec.id, str(exc)))
                continue
            conf = dict(pred.confidence)
            if project.save_prediction(rec.id, pred.landmarks, model_id=model_id, confidence=conf):
                done.append(rec.id)
            else:
                skipped.append(rec.id)
            if progress is not None:
                progress(i + 1, len(recs), f"predicted {rec.name}")
    return PredictResult(predicted=tuple(done), skipped=tuple(skipped), failed=tuple(failed), model_id=model_id)


@dataclass(frozen=True)
class RetrainJob:
    project_dir: str
    epochs: int = 15
    backbone: str | None = None  # None: the active model's (warm start)
    input_size: int | None = None
    batch_size: int = 8
    seed: int = 0
    warm_start: bool = True
    activate: str | bool = "if_better"  # or True ("use it anyway") / False
    min_train_images: int = MIN_TRAIN_IMAGES
    device: str = "auto"
    synthetic_share: float | None = DEFAULT_SHARE  # how the project's synthetic images are mixed in
    synthetic_until: float = DEFAULT_UNTIL
    extra: dict = field(default_factory=dict)  # further TrainConfig fields (tests: tiny settings)

    def __post_init__(self) -> None:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"RetrainJob.epochs must be a positive int, got {self.epochs!r}")
        check_mix(self.synthetic_share, self.synthetic_until, "RetrainJob.")
        if self.activate not in ("if_better", True, False):
            raise ValueError(f"RetrainJob.activate must be 'if_better', True or False, got {self.activate!r}")


def retrain(config: RetrainJob, *, progress=None, cancel=None, metrics=None) -> RetrainResult:
    """Train from the edited/verified images (warm start from the active model), compare with
    the active model on the same validation images, activate only if better, then re-predict
    the images no person has annotated. A cancel or a failure leaves the project as it was:
    the new checkpoint is registered only after training finished."""
    from hipvision.ml.registry import register_model
    from hipvision.ml.training import TrainConfig, train_keypoints

    with Project.open(config.project_dir, create=False) as project:
        ensure_default_model(project)
        n_train = len(project.labelled(("train",)))
        if n_train < config.min_train_images:
            raise ValueError(f"only {n_train} edited or verified training images; label at least "
                             f"{config.min_train_images} before retraining")
        active = project.active_model()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        output = project.models_dir / f"model-{stamp}-{os.getpid()}.safetensors"
        kw = dict(config.extra)
        if config.warm_start and active is not None and Path(active.abs_file).is_file():
            kw["init_from"] = str(active.abs_file)
        if config.backbone:
            if active is None or config.backbone != active.backbone:
                kw.pop("init_from", None)  # other architecture: the active weights do not fit
            kw["backbone"] = config.backbone
        if config.input_size:
            kw["input_size"] = config.input_size
        train_cfg = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
                                device=config.device, output=str(output), trained_on="project", pretrained=False,
                                synthetic_share=config.synthetic_share, synthetic_until=config.synthetic_until, **kw)
        try:
            result = train_keypoints(train_cfg, project, progress=progress, cancel=cancel, metrics=metrics)
            check_cancel(cancel)  # a cancel after the last batch still means "keep what I had"
            name = f"retrained {datetime.now().strftime('%Y-%m-%d %H:%M')}"
            reg = register_model(project, result.checkpoint, activate=config.activate, name=name)
        except BaseException:
            _remove_checkpoint(output)  # nothing of a cancelled/failed job stays behind
            raise
        repredicted: tuple[int, ...] = ()
        if reg.activated:
            repredicted = predict_images(PredictJob(config.project_dir, device=config.device), progress=progress,
                                         cancel=None).predicted
        mae = result.val_na_mae
        return RetrainResult(
            model_id=reg.record.id, name=reg.record.name, activated=reg.activated, reason=reg.reason,
            val_na_mae=None if mae is None or not math.isfinite(mae) else mae,
            new_val_na_mae=reg.new_val_na_mae, old_val_na_mae=reg.old_val_na_mae,
            val_images=reg.val_images, training_val_images=result.metrics.get("val_images"),
            kept_epoch=result.metrics.get("best_epoch"),
            train_images=n_train, epochs_run=result.epochs_run, repredicted=repredicted, seconds=result.seconds)


def _remove_checkpoint(weights: Path) -> None:
    from hipvision.ml.checkpoint import sidecar_path
    from hipvision.ml.training import state_path

    for p in (weights, sidecar_path(weights), state_path(weights)):
        Path(p).unlink(missing_ok=True)


@dataclass(frozen=True)
class GeneratorJob:
    """What the Generate dialog asks for, as plain values; the diffusion configs (which
    validate every field) are built from it in the engine thread."""

    project_dir: str
    method: str
    device: str = "auto"
    # training
    resolution: int = 128
    epochs: int = 50
    base_model: str | None = None
    # sampling
    n: int = 16
    scheduler: str = "ddim"
    steps: int = 25
    na_dist: str = "uniform:75:115"
    seed: int = 0
    extra: dict = field(default_factory=dict)  # further DenoiserTrainConfig fields (tests: tiny settings)


def train_generator_job(config: GeneratorJob, *, progress=None, cancel=None, preview=None) -> GeneratorTrainResult:
    from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
    from hipvision.ml.diffusion.generation import GeneratorTrainConfig, train_generator

    train = DenoiserTrainConfig(resolution=config.resolution, epochs=config.epochs, seed=config.seed,
                                device=config.device, **config.extra)
    result = train_generator(GeneratorTrainConfig(project=config.project_dir, method=config.method, train=train,
                                                  base_model=config.base_model),
                             progress=progress, cancel=cancel, preview=preview)
    return GeneratorTrainResult(method=config.method, saved=str(result))


def generate_job(config: GeneratorJob, *, progress=None, cancel=None, preview=None) -> GenerateResult:
    from hipvision.ml.diffusion.generation import GenerateConfig, generate_into_project

    report = generate_into_project(
        GenerateConfig(project=config.project_dir, method=config.method, n=config.n, seed=config.seed,
                       scheduler=config.scheduler, steps=config.steps, na_dist=config.na_dist, device=config.device),
        progress=progress, cancel=cancel, preview=preview)
    return GenerateResult(generated=tuple(report.accepted), rejected=report.rejected, summary=report.summary())
