"""`register_model(..., activate="if_better")`: the new model becomes active only when it scores
lower on the project's current validation images than the active one."""

import shutil

import pytest

from hipvision.core.store import Project
from hipvision.ml import registry


@pytest.mark.parametrize("new_mae,old_mae,activated", [(2.0, 3.0, True), (3.0, 2.0, False), (2.5, 2.5, False)])
def test_only_a_better_model_is_activated(project_dir, tmp_path, monkeypatch, new_mae, old_mae, activated):
    with Project.open(project_dir) as p:
        old = p.active_model()
        new_file = tmp_path / "new.safetensors"
        shutil.copy(old.abs_file, new_file)
        shutil.copy(old.abs_file.with_suffix(".json"), new_file.with_suffix(".json"))
        scores = {str(new_file): new_mae, str(old.abs_file): old_mae}
        monkeypatch.setattr(registry, "_val_score", lambda predictor, project: (scores[predictor.path], 4))
        fake_load = lambda path, **kw: type("P", (), {"path": str(path)})  # noqa: E731
        monkeypatch.setattr("hipvision.ml.predict.Predictor.load", fake_load)
        reg = registry.register_model(p, new_file, activate="if_better", name="candidate")
        assert reg.activated is activated
        assert (reg.new_val_na_mae, reg.old_val_na_mae, reg.val_images) == (new_mae, old_mae, 4)
        assert p.active_model().id == (reg.record.id if activated else old.id)
        assert ("(better)" if activated else "(not better)") in reg.reason


@pytest.mark.parametrize("new_mae,activated", [(1.0, True), (9.0, False)])
def test_a_projects_first_model_must_beat_the_bundled_one(tmp_path, tiny_model, monkeypatch, new_mae, activated):
    from hipvision.ml.predict import Predictor

    bundled = Predictor.default_path()
    scores = {str(tiny_model.checkpoint): new_mae, str(bundled): 2.0}
    monkeypatch.setattr(registry, "_val_score", lambda predictor, project: (scores[predictor.path], 3))
    monkeypatch.setattr("hipvision.ml.predict.Predictor.load", lambda path, **kw: type("P", (), {"path": str(path)}))
    (tmp_path / "fresh").mkdir()
    with Project.open(tmp_path / "fresh") as p:
        assert p.active_model() is None and not p.models()
        reg = registry.register_model(p, tiny_model.checkpoint, activate="if_better", name="first")
        assert reg.activated is activated and reg.old_val_na_mae == 2.0
        active = p.active_model()
        assert (active.name, active.kind) == (("first", "trained") if activated else ("phantom default", "default"))
        assert "of the active model (phantom default)" in reg.reason
        assert {m.name for m in p.models()} == {"first", "phantom default"}  # the bundled one is listed
