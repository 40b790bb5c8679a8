"""What the app's engine jobs (`app_jobs`) hand back: small frozen records, so the GUI bridge,
the CLI, the benchmarks and the tests read named fields instead of dict keys that can drift.
No torch here: the bridge imports this module to tell the results apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PredictResult:
    """`predict_images`: which images got a model revision, which a person's edit protected,
    and which could not be predicted (image id, why)."""

    predicted: tuple[int, ...]
    skipped: tuple[int, ...]
    failed: tuple[tuple[int, str], ...]
    model_id: int | str  # the project's model id, or "default" for the bundled model

    @property
    def touched(self) -> tuple[int, ...]:
        """The images the job looked at and wrote or left alone: their view may need a refresh."""
        return self.predicted + self.skipped


@dataclass(frozen=True)
class RetrainResult:
    """`retrain`: the registered model, whether it became active and why, its validation
    scores (None where there was no validation image), and what was re-predicted."""

    model_id: int
    name: str
    activated: bool
    reason: str
    val_na_mae: float | None  # the training run's own best validation score
    new_val_na_mae: float | None  # the comparison with the active model on the same images
    old_val_na_mae: float | None
    val_images: int | None  # how many validation images the comparison used
    training_val_images: int | None  # ... and the training run's own validation
    kept_epoch: int | None  # the best validation epoch, the one kept
    train_images: int
    epochs_run: int
    repredicted: tuple[int, ...]
    seconds: float
    basis: str = "validation"  # how old and new were compared: validation, cross-validation or none
    folds: int = 0  # cross-validation folds
    plan: str = ""  # how it trained (few_shot.FewShotPlan.summary)
    out: str | None = None  # the copy asked for with --out
    synthetic: int = 0  # generated images this retrain added (--synthetic N)
    synthetic_summary: str = ""

    @property
    def score(self) -> float | None:
        """The validation NA MAE to show: the comparison's, else the run's."""
        return self.new_val_na_mae or self.val_na_mae


@dataclass(frozen=True)
class GeneratorTrainResult:
    """`train_generator_job`: which generator was trained, and where it was saved."""

    method: str
    saved: str


@dataclass(frozen=True)
class GenerateResult:
    """`generate_job`: the synthetic images added to the project and the gate's verdict."""

    generated: tuple[int, ...]
    rejected: int
    summary: str
