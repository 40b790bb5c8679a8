"""The app's jobs called directly, no thread and no Qt (the engine and the CLI call the same
functions): what each hands back is a typed, frozen record."""

import dataclasses

import pytest

from hipvision.core.store import Project
from hipvision.ml.app_jobs import PredictJob, RetrainJob, predict_images, retrain
from hipvision.ml.job_results import PredictResult, RetrainResult
from tests.ml.conftest import JOBS_TINY as TINY
from tests.ml.conftest import N_UNLABELLED


def unlabelled(folder) -> tuple[int, ...]:
    with Project.open(folder) as p:
        return tuple(r.id for r in p.images(status="new"))


def test_predict_images_returns_what_it_predicted(project_dir):
    new = unlabelled(project_dir)
    assert len(new) == N_UNLABELLED
    with Project.open(project_dir) as p:
        labelled = p.images(status="verified")[0].id
        active = p.active_model().id
    result = predict_images(PredictJob(str(project_dir), (*new, labelled), device="cpu"))
    assert isinstance(result, PredictResult)
    # A verified image is not even tried; every other one gets a model revision.
    assert result == PredictResult(predicted=new, skipped=(), failed=(), model_id=active)
    assert result.touched == new
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.model_id = "other"  # type: ignore[misc]


def test_retrain_returns_the_registered_model_and_what_it_repredicted(project_dir):
    new_images = unlabelled(project_dir)
    with Project.open(project_dir) as p:
        n_train = len(p.labelled(("train",))) + len(p.labelled(("val",)))  # few: validation images train too
        before = {m.id for m in p.models()}
    result = retrain(RetrainJob(str(project_dir), epochs=1, batch_size=4, activate=True, min_train_images=1,
                                phantoms=1, device="cpu", extra=dict(TINY)))
    assert isinstance(result, RetrainResult)
    assert result.train_images == n_train and result.epochs_run == 1 and result.activated
    with Project.open(project_dir) as p:
        new = [m for m in p.models() if m.id not in before and m.kind != "default"]  # + the bundled one, listed
        assert [m.id for m in new] == [result.model_id] and new[0].name == result.name and new[0].active
    assert result.repredicted == new_images  # activated: what no person annotated is predicted again
    assert result.score == (result.new_val_na_mae or result.val_na_mae)

