"""The work the app's engine runs: predict images, one-click retrain.

Plain `fn(config, *, progress, cancel, ...)` functions (no Qt), so the GUI engine, the
CLI and the tests call the same code; each returns a frozen record of `job_results`. Each
job opens the project itself: sqlite connections belong to the thread that made them, and
the engine runs jobs in its own thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from hipvision.core.jobs import check_cancel
from hipvision.core.records import LABELLED_STATUSES
from hipvision.core.store import Project
from hipvision.ml.job_results import GenerateResult, GeneratorTrainResult, PredictResult
from hipvision.ml.retrain_job import (  # noqa: F401 - the engine's jobs, in one place
    MIN_TRAIN_IMAGES,
    RetrainJob,
    button_job,
    retrain,
)

# Loading a model costs seconds; the engine thread reuses it while the file is unchanged.
_predictor_cache: dict[tuple[str, float, str], object] = {}
_cache_lock = threading.Lock()



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
