"""The Retrain job with a clinic's few corrections: the few-shot plan, the cross-validated
judgement, --out, --synthetic, and a cancel that leaves the project as it was."""

import threading

import pytest

from hipvision.core.jobs import Cancelled
from hipvision.core.store import Project
from hipvision.ml import retrain_job
from hipvision.ml.checkpoint import read_sidecar, sidecar_path
from hipvision.ml.retrain_job import RetrainJob, retrain
from tests.ml.conftest import JOBS_TINY

FAST = dict(epochs=1, batch_size=4, phantoms=1, device="cpu", extra=dict(JOBS_TINY))


def corrected(folder) -> tuple[int, int]:
    with Project.open(folder) as p:
        return len(p.labelled(("train",), source="real")), len(p.labelled(("val",)))


@pytest.fixture
def training_calls(monkeypatch):
    """Every keypoint training the job runs: (image names it trained on, output file)."""
    from hipvision.ml import training

    calls = []
    real = training.train_keypoints

    def spy(config, data, **kw):
        calls.append(([s.name for s in data if s.source == "real"], config.output))
        return real(config, data, **kw)

    monkeypatch.setattr(training, "train_keypoints", spy)
    return calls


def test_few_corrections_are_cross_validated_folds_never_see_their_own_images(project_dir, training_calls):
    n_train, n_val = corrected(project_dir)
    n = n_train + n_val
    with Project.open(project_dir) as p:
        before_active = p.active_model().id
    result = retrain(RetrainJob(str(project_dir), **FAST))
    assert result.basis == "cross-validation" and result.folds == 3
    assert result.val_images == n and result.train_images == n  # validation images train too: none is held back
    assert "cross-validated (3 folds)" in result.reason and "few-shot" in result.plan
    final, *folds = training_calls
    assert len(final[0]) == n and len(folds) == 3
    held = [set(final[0]) - set(names) for names, _ in folds]
    assert all(held) and set().union(*held) == set(final[0])  # each image held out once
    assert sum(len(h) for h in held) == n
    with Project.open(project_dir) as p:
        model = next(m for m in p.models() if m.id == result.model_id)
        assert model.metrics["comparison_basis"] == "cross-validation"
        assert model.metrics["val_images_at_registration"] == n
        assert p.active_model().id == (result.model_id if result.activated else before_active)
    assert result.activated == result.reason.endswith("(better)")


def test_enough_validation_images_are_compared_on_directly(project_dir, training_calls):
    _, n_val = corrected(project_dir)
    assert n_val >= 1
    result = retrain(RetrainJob(str(project_dir), min_val_images=1, **FAST))
    assert result.basis == "validation" and result.folds == 0 and result.val_images == n_val
    assert len(training_calls) == 1


def test_out_writes_the_model_and_its_sidecar_even_when_not_promoted(project_dir, tmp_path):
    out = tmp_path / "exported" / "clinic.safetensors"
    result = retrain(RetrainJob(str(project_dir), activate=False, out=str(out), **FAST))
    assert not result.activated and result.out == str(out)
    assert out.is_file() and sidecar_path(out).is_file()
    assert read_sidecar(out)["stage1"]["backbone"] == "test_resnet"
    assert not list(out.parent.glob("*.part"))


def test_a_cancel_during_cross_validation_leaves_the_project_as_it_was(project_dir):
    with Project.open(project_dir) as p:
        models_before = [(m.id, m.active) for m in p.models() if m.kind != "default"]
        models_dir = p.models_dir
    files_before = sorted(f.name for f in models_dir.iterdir())
    cancel = threading.Event()

    def progress(done, total, msg):
        if "fold 2" in msg:
            cancel.set()

    with pytest.raises(Cancelled):
        retrain(RetrainJob(str(project_dir), **FAST), progress=progress, cancel=cancel)
    with Project.open(project_dir) as p:
        # (the bundled model is listed when the job opens the project: not something it trained)
        assert [(m.id, m.active) for m in p.models() if m.kind != "default"] == models_before
    assert sorted(f.name for f in models_dir.iterdir()) == files_before


def test_synthetic_trains_a_generator_on_the_corrections_and_adds_its_images(project_dir):
    tiny_gen = dict(resolution=32, unet_size="tiny", batch_size=4, max_steps=2, warmup_steps=1)
    result = retrain(RetrainJob(str(project_dir), synthetic=3, generator=tiny_gen, **FAST))
    assert "of 3 images accepted" in result.synthetic_summary
    with Project.open(project_dir) as p:
        synthetic = p.images(source="synthetic")
        assert len(synthetic) == result.synthetic
        assert (p.models_dir / "generators" / "conditional-crop").is_dir()


def test_too_few_corrections_are_refused_with_the_count(project_dir):
    n = sum(corrected(project_dir))
    with pytest.raises(ValueError, match=f"only {n} edited or verified images; label at least {n + 1}"):
        retrain(RetrainJob(str(project_dir), min_train_images=n + 1, **FAST))
    assert retrain_job.MIN_TRAIN_IMAGES == 3  # the promise: from 3 corrected images


def test_job_fields_are_checked():
    for bad in (dict(epochs=0), dict(out="model.pt"), dict(synthetic=-1), dict(phantoms=-2), dict(activate="maybe")):
        with pytest.raises(ValueError):
            RetrainJob("p", **bad)
