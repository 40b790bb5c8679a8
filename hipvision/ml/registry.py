"""Adding a trained model to a project, and the rule for making it the active one.

A new model becomes active only if it beats the active one (the bundled model, for a project's
first) on the project's *current* validation images (both scored the same way, through the
Predictor), or when asked to; the old model is kept either way. Comparing with the metric
stored at the old model's training time would be unfair: the validation split grows as users
label more images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hipvision.ml.checkpoint import read_sidecar


@dataclass(frozen=True)
class Registration:
    record: object  # core.records.ModelRecord
    activated: bool
    reason: str
    new_val_na_mae: float | None = None
    old_val_na_mae: float | None = None
    val_images: int | None = None  # how many validation images both figures were measured on


def _val_score(predictor, project) -> tuple[float | None, int]:
    """(validation NA MAE, number of validation images it was measured on)."""
    from hipvision.ml.evaluate import evaluate

    report = evaluate(predictor, project, splits=("val",))
    m = report.by_split.get("val", {})
    return (m.get("na_mae"), int(m.get("images", 0))) if m.get("hips") else (None, 0)


def unique_name(project, name: str) -> str:
    """`name`, or `name (2)`, `name (3)`, ...: two retrains in the same minute, or on unchanged
    data, are still two different models, and the Models panel must tell them apart."""
    taken = {m.name for m in project.models()}
    n, out = 1, name
    while out in taken:
        n += 1
        out = f"{name} ({n})"
    return out


def register_model(project, checkpoint: str | Path, *, activate: str | bool = "if_better", name: str | None = None,
                   kind: str = "trained", reason: str | None = None, metrics: dict | None = None) -> Registration:
    """Record `checkpoint` in the project's models table; activate per `activate`
    (True, False or "if_better"). A caller that judged the model itself (the retrain job)
    passes True/False with its `reason` and the `metrics` of its comparison."""
    from hipvision.ml.predict import Predictor

    checkpoint = Path(checkpoint)
    meta = read_sidecar(checkpoint)
    stage1 = meta["stage1"]
    metrics = {**(meta.get("metrics") or {}), **(metrics or {})}
    old = project.active_model()
    new_mae = old_mae = n_val = None
    if activate == "if_better":
        if old is None:
            # A project's first model competes with the bundled one, which predicts until then:
            # recorded as the active model (listed, revertible), it is judged like any other.
            from hipvision.ml.app_jobs import ensure_default_model

            old = ensure_default_model(project)
        if old is None:
            do, reason = True, "no model was active"
        else:
            new_mae, n_val = _val_score(Predictor.load(checkpoint), project)
            try:
                old_mae, _ = _val_score(Predictor.load(old.abs_file), project)
            except Exception as exc:  # noqa: BLE001 - an unreadable old model should not block the new one
                old_mae, reason = None, f"the active model cannot be loaded ({exc})"
            if new_mae is None:
                do, reason = False, "no validation images to compare on; activate it yourself if you want it"
            elif old_mae is None or not math.isfinite(old_mae):
                do, reason = True, "the active model could not be scored"
            else:
                do = new_mae < old_mae
                reason = (f"validation NA MAE {new_mae:.2f}° vs {old_mae:.2f}° of the active model ({old.name}) "
                          f"on the same {n_val} validation images ({'better' if do else 'not better'})")
        if new_mae is not None:
            metrics["val_na_mae_at_registration"] = new_mae
            metrics["val_images_at_registration"] = n_val
    else:
        do, reason = bool(activate), reason or "as requested"
    name = unique_name(project, name or meta.get("model_id") or checkpoint.stem)
    rec = project.add_model(name=name, backbone=stage1["backbone"], file=checkpoint, kind=kind,
                            data_summary=meta.get("data_summary") or {},
                            metrics=metrics, activate=do)
    return Registration(record=rec, activated=do, reason=reason, new_val_na_mae=new_mae, old_val_na_mae=old_mae,
                        val_images=n_val)
