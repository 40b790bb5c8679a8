"""The simulated clinic and the real-dev-set leave-one-out, end to end with tiny models."""

import json

import numpy as np

from hipvision.ml import clinic_sim
from hipvision.ml.clinic_sim import RESULTS, ClinicConfig, markdown, run_clinic
from tests.ml.conftest import JOBS_TINY

TINY_RETRAIN = dict(epochs=1, batch_size=4, phantoms=1, extra=dict(JOBS_TINY))


def test_a_clinic_run_scores_each_arm_on_the_clinic_images_and_resumes(tmp_path, tiny_model, monkeypatch):
    config = ClinicConfig(work=str(tmp_path / "clinic"), style="clinic-c", shots=(3,), test=2, size=192,
                          model=str(tiny_model.checkpoint), threads=2, device="cpu", retrain=TINY_RETRAIN)
    result = run_clinic(config)
    (arm,) = result["arms"]
    assert arm.shots == 3 and arm.synthetic == 0 and arm.basis == "cross-validation"
    assert 0 <= arm.na_mae < 90 and arm.seconds > 0
    images = tmp_path / "clinic" / "images"
    assert len(list(images.glob("phantom_*.png"))) == 5  # 3 corrections + 2 of the clinic's other images
    assert "clinic style clinic-c" in json.loads((images / "annotations.json").read_text())["info"]["description"]
    saved = json.loads((tmp_path / "clinic" / RESULTS).read_text())
    assert saved["arms"][0]["na_mae"] == arm.na_mae and saved["baseline"] == result["baseline"]
    table = markdown(config, result)
    assert f"| 3 | 0 | {arm.na_mae:.2f} |" in table and "clinic-c" in table and arm.synthetic_added == 0

    # A second run reuses the finished arm: nothing is retrained.
    def no_retrain(*a, **k):
        raise AssertionError("a finished arm was retrained")

    monkeypatch.setattr("hipvision.ml.retrain_job.retrain", no_retrain)
    again = run_clinic(config)
    assert again["arms"] == result["arms"]


def test_a_changed_setting_starts_the_results_afresh(tmp_path):
    a = ClinicConfig(work=str(tmp_path), test=10)
    assert a.key() != ClinicConfig(work=str(tmp_path), test=20).key()
    assert a.key() == ClinicConfig(work=str(tmp_path), test=10, shots=(6,), synthetic=(0, 8)).key()  # same clinic


def test_clinic_config_checks_itself(tmp_path):
    import pytest

    for bad in (dict(style="clinic-z"), dict(shots=(1,)), dict(test=0), dict(synthetic=(-1,))):
        with pytest.raises(ValueError):
            ClinicConfig(work=str(tmp_path), **bad)
    assert clinic_sim.ClinicConfig(work="w", shots=(12, 3, 3)).shots == (3, 12)


def test_leave_one_out_retrains_without_the_held_out_image(tmp_path, tiny_model, monkeypatch):
    from hipvision.ml import devset_loo
    from hipvision.ml.devset import ReferenceImage
    from hipvision.phantom import PhantomConfig, generate_phantoms, render_phantom
    from hipvision.phantom.render import derived_seed

    folder = tmp_path / "refs"
    generate_phantoms(folder, 3, seed=77, config=PhantomConfig(size=192))
    refs = []
    for i in range(3):
        case = render_phantom(derived_seed(77, i), PhantomConfig(size=192))
        left, right = case.mapping.to_image_order(case.landmarks)
        refs.append(ReferenceImage(path=folder / f"phantom_{i:04d}.png",
                                   heads=np.array([[left.head_x, left.head_y], [right.head_x, right.head_y]]),
                                   rims=np.array([[left.rim_x, left.rim_y], [right.rim_x, right.rim_y]])))
    seen = []
    real = devset_loo._project

    def spy(others, dest, model):
        seen.append({r.path.name for r in others})
        return real(others, dest, model)

    monkeypatch.setattr(devset_loo, "_project", spy)
    folds = devset_loo.leave_one_out(refs, tmp_path / "work", model=str(tiny_model.checkpoint), threads=2,
                                     device="cpu", click_trials=1, retrain_fields=TINY_RETRAIN)
    assert [f.held_out for f in folds] == [r.path.name for r in refs]
    for f, names in zip(folds, seen):
        assert f.held_out not in names and len(names) == 2
        assert {r.image for r in f.rows} == {f.held_out} and {r.mode for r in f.rows} == {"auto", "clicks"}
