"""`hipvision retrain PROJECT`: the Retrain button's job, headless, with the same defaults."""

import pytest

from hipvision.cli import main
from hipvision.core.settings import AppSettings, save_settings
from hipvision.core.store import Project
from hipvision.ml import app_jobs, retrain_job
from hipvision.ml.checkpoint import sidecar_path
from tests.ml.conftest import JOBS_TINY, base_project, project_dir  # noqa: F401 (fixtures)


@pytest.fixture
def fast_job(monkeypatch):
    """Tiny networks and one phantom for every RetrainJob the command makes (the defaults are
    the real ones otherwise); records the jobs it ran."""
    class Jobs(list):
        original = None

    jobs = Jobs()
    real = retrain_job.retrain

    def tiny(config, **kw):
        import dataclasses

        jobs.append(config)
        return real(dataclasses.replace(config, phantoms=1, batch_size=4, extra=dict(JOBS_TINY)), **kw)

    monkeypatch.setattr(retrain_job, "retrain", tiny)
    jobs.original = real
    return jobs


def test_retrain_writes_out_and_says_whether_it_promoted(project_dir, tmp_path, fast_job, capsys):  # noqa: F811
    out = tmp_path / "clinic.safetensors"
    with Project.open(project_dir) as p:
        before = len([m for m in p.models() if m.kind == "trained"])
    assert main(["retrain", str(project_dir), "--out", str(out), "--epochs", "1", "--threads", "2",
                 "--device", "cpu", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith(("promoted: it is now the active model", "not promoted: the active model stays"))
    assert "cross-validated (3 folds)" in lines[-1]
    assert out.is_file() and sidecar_path(out).is_file()
    (job,) = fast_job
    assert job.epochs == 1 and job.threads == 2 and job.device == "cpu" and job.out == str(out)
    with Project.open(project_dir) as p:
        assert len([m for m in p.models() if m.kind == "trained"]) == before + 1


def test_the_command_and_the_button_run_the_same_job(project_dir, qtbot, monkeypatch):  # noqa: F811
    """Both paths build the job in `retrain_job.button_job` from the same settings, and both run
    `retrain_job.retrain`: the GUI's engine is handed app_jobs.retrain, which is that function.
    (The command's own run is the test above; here the job is only recorded.)"""
    from hipvision.ml.job_results import RetrainResult
    from tests.gui.conftest import open_window

    original, ran = retrain_job.retrain, []

    def record(config, **kw):
        ran.append(config)
        return RetrainResult(model_id=9, name="m", activated=False, reason="recorded", val_na_mae=None,
                             new_val_na_mae=None, old_val_na_mae=None, val_images=None, training_val_images=None,
                             kept_epoch=None, train_images=5, epochs_run=1, repredicted=(), seconds=0.0)

    monkeypatch.setattr(retrain_job, "retrain", record)
    save_settings(AppSettings(device="cpu", synthetic_share=0.3, synthetic_until=0.5))
    assert main(["retrain", str(project_dir), "--quiet"]) == 0
    (cli_job,) = ran

    win = open_window(qtbot, project_dir, with_engine=True)
    bridge = win.engine_bridge
    submitted = []
    def submit(kind, fn, config, **kw):
        submitted.append((kind, fn, config))
        return type("Job", (), {"id": 1})()

    monkeypatch.setattr(bridge.engine, "submit", submit)
    monkeypatch.setattr(bridge.jobs_panel, "add_job", lambda job: None)
    bridge.retrain_action.trigger()
    ((kind, fn, gui_job),) = submitted
    assert kind == "retrain" and fn is app_jobs.retrain is original  # the command's function
    assert gui_job == cli_job
    assert (gui_job.device, gui_job.synthetic_share, gui_job.synthetic_until) == ("cpu", 0.3, 0.5)


def test_a_folder_without_a_project_is_named(tmp_path, capsys):
    assert main(["retrain", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "no HipVision project" in err


def test_bad_flags_are_named(project_dir, capsys):  # noqa: F811
    assert main(["retrain", str(project_dir), "--epochs", "0"]) == 2
    assert "epochs must be a positive int" in capsys.readouterr().err
    assert main(["retrain", str(project_dir), "--out", "model.pt"]) == 2
    assert "out must end in .safetensors" in capsys.readouterr().err
