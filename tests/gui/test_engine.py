"""The engine runs plain `fn(config, *, progress, cancel)` jobs off the GUI thread."""

import threading
import time

import pytest

from hipvision.gui.engine import Engine, friendly_error
from tests.gui.engine_jobs import counting as counting_job


@pytest.fixture
def engine(qtbot):
    e = Engine()
    yield e
    assert e.shutdown(10_000)


def test_job_runs_in_worker_thread_and_reports(qtbot, engine):
    progress, metrics, previews = [], [], []
    engine.progress.connect(lambda jid, d, t, m, eta: progress.append((d, t, m)))
    engine.metrics.connect(lambda jid, ep, vals: metrics.append(vals["loss"]))
    engine.preview.connect(lambda jid, img, cap: previews.append(cap))
    with qtbot.waitSignal(engine.finished, timeout=10_000) as blocker:
        job = engine.submit("test", counting_job, {"steps": 5}, hooks=("metrics", "preview"))
    jid, result = blocker.args
    assert jid == job.id and result["steps"] == 5
    assert result["thread"] != threading.current_thread().name
    qtbot.waitUntil(lambda: len(previews) == 1)
    assert [p[0] for p in progress] == [1, 2, 3, 4, 5] and progress[-1][2] == "step 5"
    assert metrics == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert not engine.busy()


def test_jobs_queue_one_at_a_time(qtbot, engine):
    order = []
    engine.started.connect(lambda jid: order.append(("start", jid)))
    engine.finished.connect(lambda jid, r: order.append(("end", jid)))
    a = engine.submit("a", counting_job, {"steps": 3, "sleep": 0.01})
    b = engine.submit("b", counting_job, {"steps": 1})
    qtbot.waitUntil(lambda: len(order) == 4, timeout=10_000)
    assert order == [("start", a.id), ("end", a.id), ("start", b.id), ("end", b.id)]


def test_cancel_mid_job_and_queued(qtbot, engine):
    got = []
    engine.cancelled.connect(got.append)
    running = engine.submit("slow", counting_job, {"steps": 10_000, "sleep": 0.005})
    queued = engine.submit("queued", counting_job, {"steps": 1})
    qtbot.waitSignal(engine.progress, timeout=10_000).wait()
    engine.cancel(queued.id)
    engine.cancel(running.id)
    qtbot.waitUntil(lambda: len(got) == 2, timeout=10_000)
    assert got == [running.id, queued.id]


def test_failure_is_reported_not_raised(qtbot, engine):
    def boom(config, *, progress, cancel):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with qtbot.waitSignal(engine.failed, timeout=10_000) as blocker:
        engine.submit("boom", boom, None)
    _, message, tb = blocker.args
    assert "smaller batch" in message and "RuntimeError" in tb
    # The thread survives a failed job.
    with qtbot.waitSignal(engine.finished, timeout=10_000):
        engine.submit("after", counting_job, {"steps": 1})


def test_shutdown_cancels_running_job(qtbot):
    engine = Engine()
    engine.submit("slow", counting_job, {"steps": 100_000, "sleep": 0.002})
    qtbot.waitSignal(engine.progress, timeout=10_000).wait()
    t0 = time.monotonic()
    assert engine.shutdown(10_000)
    assert time.monotonic() - t0 < 5


def test_friendly_error_plain_message():
    assert friendly_error(ValueError("bad batch size 0")) == "bad batch size 0"
    assert friendly_error(KeyError("x")).startswith("KeyError")
    from hipvision.core.records import StoreError

    assert friendly_error(StoreError("cannot write /p/project.sqlite: disk full")) == \
        "cannot write /p/project.sqlite: disk full"


def test_a_project_that_cannot_be_written_is_an_expected_failure():
    """A read-only or full project database is the user's environment, not a bug: no traceback logged."""
    from hipvision.core.jobs import EXPECTED_ERRORS
    from hipvision.core.store import ProjectWriteError

    assert isinstance(ProjectWriteError("cannot write x"), EXPECTED_ERRORS)
