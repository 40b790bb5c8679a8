"""Leave-one-out retrain on a real dev set: does the Retrain job learn from real corrections?

For each reference radiograph, a project holds the *other* references as corrected images
(their approximate landmarks; head radius from the inter-head distance, as `ReferenceImage`
gives it), the Retrain button's job runs on it, and the new model — promoted or not — is
scored on the held-out radiograph, automatically and from simulated clicks. With three
references each retrain sees two images, one below the job's own minimum, so the minimum
is lowered to two here (and said so in the output).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from hipvision.core.jobs import check_cancel


@dataclass(frozen=True)
class FoldResult:
    held_out: str
    promoted: bool
    reason: str
    seconds: float
    rows: tuple  # devset.HipResult of the held-out image, from the retrained model


def _project(refs, dest: Path, model: str | None) -> Path:
    from hipvision.core.importer import import_folder
    from hipvision.core.interchange import AnnotatedImage, write_coco
    from hipvision.core.radiograph import read_header
    from hipvision.core.store import Project

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    items = []
    for ref in refs:
        shutil.copy2(ref.path, dest / ref.path.name)
        head = read_header(dest / ref.path.name)
        h, w = head.height, head.width
        items.append(AnnotatedImage(image=ref.path.name, landmarks=ref.landmarks(), width=w, height=h))
    write_coco(dest / "annotations.json", items, description="real dev set, leave-one-out")
    with Project.open(dest) as p:
        for ref in refs:
            p.add_image(dest / ref.path.name, split="train")
        import_folder(p, labels=True)
        if model:
            from hipvision.ml.registry import register_model

            register_model(p, model, activate=True, name="starting model")
    return dest


def leave_one_out(refs, work: str | Path, *, model: str | None = None, threads: int | None = None,
                  device: str = "auto", click_error: float = 1 / 3, click_trials: int = 5, retrain_fields=None,
                  progress=None, cancel=None) -> list[FoldResult]:
    from hipvision.core.store import Project
    from hipvision.ml.devset import evaluate_reference
    from hipvision.ml.predict import Predictor
    from hipvision.ml.retrain_job import RetrainJob, retrain

    out = []
    for i, held in enumerate(refs):
        check_cancel(cancel)
        others = [r for j, r in enumerate(refs) if j != i]
        proj = _project(others, Path(work) / f"loo-{i}", model)
        job = RetrainJob(str(proj), threads=threads, device=device, min_train_images=len(others),
                         **(retrain_fields or {}))
        res = retrain(job, progress=progress, cancel=cancel)
        with Project.open(proj, create=False) as p:
            model_file = next(m.abs_file for m in p.models() if m.id == res.model_id)
        rows = evaluate_reference(Predictor.load(model_file, device=device), [held], click_error=click_error,
                                  click_trials=click_trials)
        out.append(FoldResult(held_out=held.path.name, promoted=res.activated, reason=res.reason,
                              seconds=res.seconds, rows=tuple(rows)))
    return out
