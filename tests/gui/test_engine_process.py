"""Issue 15 as a user meets it: the engine's heavy work runs in a child process. A crash there
(SIGKILL, as the OOM killer sends) leaves the window, the project and the active model as they
were; a child that raises shows its error in the jobs panel; Cancel is immediate even for a job
that never checks its token; the next job gets a fresh child."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from hipvision.core.store import Project
from hipvision.gui.engine import Engine
from hipvision.gui.jobs_panel import JobsPanel
from tests.gui import engine_jobs
from tests.gui.test_engine_bridge import base_project, bridge_window, unlabelled_ids  # noqa: F401  (fixture)
from tests.gui.test_engine_bridge import project_dir as engine_project_dir  # noqa: F401  (fixture by name)


@pytest.fixture
def process_engine(qtbot):
    e = Engine(backend="process", grace_s=0.5)
    yield e
    assert e.shutdown(10_000)


@pytest.fixture
def app_on_process_engine(monkeypatch):
    # The suite runs engines in their thread (tests/conftest.py); these tests want the app's backend.
    monkeypatch.setenv("HIPVISION_ENGINE", "process")


def model_files(project: Project) -> list[str]:
    return sorted(str(p.relative_to(project.models_dir)) for p in project.models_dir.rglob("*"))


def test_jobs_run_in_a_warm_child_and_report_like_the_thread(qtbot, process_engine):
    progress, metrics, previews = [], [], []
    process_engine.progress.connect(lambda jid, d, t, m, eta: progress.append((d, t, m)))
    process_engine.metrics.connect(lambda jid, ep, vals: metrics.append(vals["loss"]))
    process_engine.preview.connect(lambda jid, img, cap: previews.append(img))
    with qtbot.waitSignal(process_engine.finished, timeout=30_000) as first:
        process_engine.submit("test", engine_jobs.counting, {"steps": 3, "preview_side": 1100},
                              hooks=("metrics", "preview"))
    pid = first.args[1]["pid"]
    assert pid != os.getpid() and pid == process_engine.child_pid()
    assert [p[0] for p in progress] == [1, 2, 3] and progress[-1][2] == "step 3"
    assert metrics == pytest.approx([1, 1 / 2, 1 / 3])
    # 1.2 MB: it came through a file, not the pipe, and arrived whole.
    assert len(previews) == 1 and previews[0].shape == (1100, 1100) and int(previews[0][-1, -1]) == 7
    with qtbot.waitSignal(process_engine.finished, timeout=30_000) as second:
        process_engine.submit("test", engine_jobs.counting, {"steps": 1})
    assert second.args[1]["pid"] == pid  # kept warm: no new child for the next job
    assert len(process_engine.child_starts) == 1
    with qtbot.waitSignal(process_engine.finished, timeout=30_000) as third:
        process_engine.submit("test", engine_jobs.heavy_modules_loaded, None)
    assert third.args[1] == []  # no Qt in the child, and no torch until a job needs it


def test_cancel_kills_a_job_that_ignores_it_and_removes_what_it_left(qtbot, process_engine, project_dir):
    panel = JobsPanel(process_engine)
    qtbot.addWidget(panel)
    with Project.open(project_dir) as p:
        before = model_files(p)
        config = engine_jobs.StuckJob(str(project_dir), str(p.models_dir))
    with qtbot.waitSignal(process_engine.progress, timeout=30_000):
        job = process_engine.submit("deaf", engine_jobs.deaf, config, title="Stuck job")
        panel.add_job(job)
    pid = process_engine.child_pid()
    with Project.open(project_dir) as p:
        assert model_files(p) != before  # the job did leave files behind
    t0 = time.monotonic()
    with qtbot.waitSignal(process_engine.cancelled, timeout=10_000):
        qtbot.mouseClick(panel.rows[job.id].cancel_button, Qt.MouseButton.LeftButton)
    assert time.monotonic() - t0 < 3  # the grace (0.5 s), then a kill: not "when the job feels like it"
    qtbot.waitUntil(lambda: "cancelled" in panel.rows[job.id].status.text(), timeout=5_000)
    with Project.open(project_dir) as p:
        assert model_files(p) == before and p.integrity_check() == "ok"
    # The next job gets a fresh child.
    with qtbot.waitSignal(process_engine.finished, timeout=30_000) as done:
        process_engine.submit("test", engine_jobs.counting, {"steps": 1})
    assert done.args[1]["pid"] not in (pid, os.getpid())


def test_sigkill_mid_training_leaves_window_project_and_active_model(qtbot, engine_project_dir,
                                                                     app_on_process_engine):
    from hipvision.ml.predict import Predictor

    win, bridge = bridge_window(qtbot, engine_project_dir, epochs=50)
    engine = bridge.engine
    assert engine.backend == "process"
    qtbot.waitUntil(lambda: not engine.busy(), timeout=60_000)  # the bundled model listed on opening
    active_before = win.project.active_model()
    models_before = win.project.models()
    files_before = model_files(win.project)
    epochs = []
    engine.metrics.connect(lambda jid, ep, vals: epochs.append(ep))
    bridge.retrain_action.trigger()
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=180_000)  # mid-training
    qtbot.waitUntil(lambda: model_files(win.project) != files_before, timeout=30_000)  # a checkpoint on disk
    pid = engine.child_pid()
    assert pid is not None and pid != os.getpid()
    with qtbot.waitSignal(engine.failed, timeout=30_000) as blocker:
        os.kill(pid, signal.SIGKILL)
    message = blocker.args[1]
    assert "killed (SIGKILL)" in message and "out of memory" in message
    row = bridge.jobs_panel.rows[bridge.retrain_job_id or max(bridge.jobs_panel.rows)]
    qtbot.waitUntil(lambda: "SIGKILL" in row.status.text(), timeout=5_000)
    # The window still works: the retrain button is back, and the next image opens.
    qtbot.waitUntil(bridge.retrain_action.isEnabled, timeout=5_000)
    first = win.current_image_id
    win.image_list.select_id(unlabelled_ids(engine_project_dir)[0])
    assert win.current_image_id != first
    # The project: intact, the same models, the same active one, no file the dead child left.
    with Project.open(engine_project_dir) as p:
        assert p.integrity_check() == "ok"
        assert p.active_model() == active_before and p.models() == models_before
        assert model_files(p) == files_before
    Predictor.load(active_before.abs_file)
    # The next job works, in a fresh child.
    with qtbot.waitSignal(engine.finished, timeout=120_000,
                          check_params_cb=lambda jid, r: engine.jobs[jid].title == "Predict all images"):
        bridge.predict_all_action.trigger()
    assert engine.child_pid() not in (None, pid)
    with Project.open(engine_project_dir) as p:
        assert all(p.image(i).status in ("predicted", "edited") for i in unlabelled_ids(engine_project_dir)[1:])


def test_a_job_that_raises_in_the_child_shows_its_error_in_the_jobs_panel(qtbot, engine_project_dir,
                                                                          app_on_process_engine):
    win, bridge = bridge_window(qtbot, engine_project_dir)
    with qtbot.waitSignal(bridge.engine.failed, timeout=60_000) as blocker:
        job = bridge.engine.submit("test", engine_jobs.raises, "rim 3", title="Check landmarks")
        bridge.jobs_panel.add_job(job)
    assert "KeyError" in blocker.args[1] and "rim 3" in blocker.args[1]
    assert "Traceback" in blocker.args[2] and "engine_jobs.py" in blocker.args[2]  # the child's own traceback
    row = bridge.jobs_panel.rows[job.id]
    qtbot.waitUntil(lambda: "rim 3" in row.status.text(), timeout=5_000)
    assert row.status.text().startswith("failed: KeyError") and not row.cancel_button.isEnabled()
    pid = bridge.engine.child_pid()
    assert pid not in (None, os.getpid())
    # A job that raises does not end the child: the next one runs in the same, warm process.
    with qtbot.waitSignal(bridge.engine.finished, timeout=30_000) as done:
        bridge.engine.submit("test", engine_jobs.counting, {"steps": 1})
    assert done.args[1]["pid"] == pid


def test_unpicklable_jobs_still_run_in_the_engine_thread(qtbot, process_engine):
    def local_job(config, *, progress, cancel):
        return os.getpid()

    with qtbot.waitSignal(process_engine.finished, timeout=10_000) as blocker:
        process_engine.submit("local", local_job, None)
    assert blocker.args[1] == os.getpid() and process_engine.child_starts == []


def test_models_folder_snapshot_is_taken_from_the_right_place(project_dir):
    from hipvision.core.folder_snapshot import remove_new_files, snapshot

    before = snapshot(project_dir)
    assert before is not None
    with Project.open(project_dir) as p:
        stray = Path(p.models_dir) / "gen" / ".weights.tmp"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"x")
        kept = Path(p.models_dir) / "registered.safetensors"
        kept.write_bytes(b"x")
        p.add_model(name="r", backbone="test_resnet", file=kept, kind="trained", data_summary={}, metrics={})
    removed = remove_new_files(before)
    assert not stray.exists() and not stray.parent.exists() and kept.exists()
    assert set(removed) == {stray, stray.parent}
