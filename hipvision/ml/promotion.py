"""Is the retrained model better than the active one? Judged honestly with few images.

With five or more validation images both models are scored on them. With fewer, one or two
validation images would decide by luck, so the corrected images are cross-validated instead:
k models are fine-tuned from the active one exactly as the retrain does, each without one
fold of the images, and each is scored on the fold it did not see; the active model is
scored on every image. Either way the rule is the same (`judge`): the new model must have the
lower mean NA error, and without the image it helped most it must not be worse than the old one
(beyond a quarter degree per image): fixing one failed image while matching the old model
elsewhere is progress, gaining on one image while losing on the rest is luck. One image alone
never decides.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from hipvision.core.geometry import GeometryError
from hipvision.core.jobs import check_cancel

if TYPE_CHECKING:  # the retrain job's dataclass reads MIN_VAL_IMAGES; the GUI imports it without torch
    from hipvision.ml.data import Sample

MIN_VAL_IMAGES = 5  # fewer validation images than this: cross-validate on the corrected images
MAX_FOLDS = 3
# Without the image it helped most, the new model may be this much worse per image (a tie: it
# fixed one failure and kept the rest), but not more (it got lucky on one image).
NOISE_DEG = 0.25
FAILED_ERROR = 45.0  # NA error counted for an image a model cannot measure (no hips, bad geometry)


@dataclass(frozen=True)
class Comparison:
    """Old vs new model on the same images, and the decision."""

    basis: str  # "validation" or "cross-validation"
    folds: int  # 0 for "validation"
    images: tuple[str, ...]
    old_errors: tuple[float, ...]  # per image: mean NA error of its two hips, degrees
    new_errors: tuple[float, ...]
    better: bool
    reason: str

    @property
    def old_mae(self) -> float:
        return sum(self.old_errors) / len(self.old_errors)

    @property
    def new_mae(self) -> float:
        return sum(self.new_errors) / len(self.new_errors)

    def describe(self) -> str:
        what = (f"cross-validated ({self.folds} folds) on the {len(self.images)} corrected images"
                if self.basis == "cross-validation" else f"on the same {len(self.images)} validation images")
        return f"NA MAE {self.new_mae:.2f}° vs {self.old_mae:.2f}° of the active model, {what}"


def judge(images: Sequence[str], old: Sequence[float], new: Sequence[float], *, basis: str, folds: int = 0
          ) -> Comparison:
    """The promotion rule on per-image errors of the same images."""
    if not images or len(images) != len(old) or len(old) != len(new):
        raise ValueError("judge needs one old and one new error per image")
    gains = [o - n for o, n in zip(old, new)]
    mean_gain = sum(gains) / len(gains)
    cmp = Comparison(basis=basis, folds=folds, images=tuple(images), old_errors=tuple(old), new_errors=tuple(new),
                     better=False, reason="")
    if len(images) < 2:
        return replace(cmp, reason=f"{cmp.describe()}: one image cannot show a model is better; "
                                   "activate it yourself if you want it")
    if mean_gain <= 0:
        return replace(cmp, reason=f"{cmp.describe()} (not better)")
    rest = sorted(gains)[:-1]  # without the image the new model helped most
    if sum(rest) / len(rest) < -NOISE_DEG:
        return replace(cmp, reason=f"{cmp.describe()}: better only thanks to one image and worse on the others, "
                                   "so not activated")
    return replace(cmp, better=True, reason=f"{cmp.describe()} (better)")


def image_errors(predictor, samples: Sequence[Sample], cancel=None) -> list[float]:
    """Per sample: the mean NA error of its two hips as the app predicts them."""
    from hipvision.ml.metrics import compare

    out = []
    for s in samples:
        check_cancel(cancel)
        try:
            pred = predictor.predict(s.image, s.mapping)
            rows = compare(s.label, pred.landmarks, s.landmarks, split=s.split, spacing=s.spacing)
            errs = [r.na_abs_err for r in rows if math.isfinite(r.na_abs_err)]
            out.append(min(sum(errs) / len(errs), FAILED_ERROR) if errs else FAILED_ERROR)
        except (GeometryError, ValueError):
            out.append(FAILED_ERROR)
    return out


def compare_on_validation(old_path, new_path, val: Sequence[Sample], *, device: str = "auto", cancel=None
                          ) -> Comparison:
    from hipvision.ml.predict import Predictor

    new = image_errors(Predictor.load(new_path, device=device), val, cancel)
    old = image_errors(Predictor.load(old_path, device=device), val, cancel)
    return judge([s.label for s in val], old, new, basis="validation")


def folds_of(samples: Sequence[Sample], k: int) -> list[list[int]]:
    """k disjoint folds of sample indices, in order (i, i+k, ...), covering all samples."""
    return [list(range(f, len(samples), k)) for f in range(k)]


def cross_validate(old_path, samples: Sequence[Sample], train_fold: Callable[[list[Sample], Path, int], Path], *,
                   device: str = "auto", progress=None, cancel=None) -> Comparison:
    """Cross-validated comparison. `train_fold(samples, output, fold)` fine-tunes from the
    active model on `samples` (as the retrain does) and returns the checkpoint written there."""
    from hipvision.ml.predict import Predictor

    k = min(MAX_FOLDS, len(samples))
    if k < 2:
        raise ValueError("cross-validation needs at least two corrected images")
    old = image_errors(Predictor.load(old_path, device=device), samples, cancel)
    new = [math.nan] * len(samples)
    with tempfile.TemporaryDirectory(prefix="hipvision-cv-") as tmp:
        for f, held in enumerate(folds_of(samples, k)):
            check_cancel(cancel)
            if progress is not None:
                progress(f, k, f"cross-validating: fold {f + 1} of {k}")
            train = [samples[i] for i in range(len(samples)) if i not in held]
            ckpt = train_fold(train, Path(tmp) / f"fold{f}.safetensors", f)
            errs = image_errors(Predictor.load(ckpt, device=device), [samples[i] for i in held], cancel)
            for i, e in zip(held, errs):
                new[i] = e
    return judge([s.label for s in samples], old, new, basis="cross-validation", folds=k)
