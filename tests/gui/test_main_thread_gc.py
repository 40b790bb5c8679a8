"""Cycles that hold Qt objects are freed in the GUI thread, never in the engine's worker thread
(a CI run died with SIGSEGV when the collector ran while a job parsed JSON in that thread)."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QObject

from hipvision.gui import main_thread_gc
from hipvision.gui.engine import Engine


def allocate(config, *, progress, cancel):
    """An engine job that allocates the way a JSON decode does: many small containers."""
    keep = [[i] for i in range(config["n"])]
    return {"thread": threading.current_thread().name, "n": len(keep)}


def test_a_cycle_with_a_qt_object_is_freed_in_the_gui_thread_while_a_job_allocates(qtbot):
    engine = Engine(backend="thread")
    try:
        assert main_thread_gc.installed() is not None and not gc.isenabled()
        freed_in: list[str] = []

        class Holder:
            pass

        holder = Holder()
        holder.me = holder  # a cycle: only the collector frees it
        holder.widget = QObject()
        weakref.finalize(holder, lambda: freed_in.append(threading.current_thread().name))
        del holder

        with qtbot.waitSignal(engine.finished, timeout=30_000) as done:
            engine.submit("alloc", allocate, {"n": 300_000})
        assert done.args[1]["thread"] != threading.main_thread().name  # it did run in the worker
        assert freed_in == []  # not freed in the worker, though its allocations crossed the thresholds
        # Here, as in the app, the GUI thread's own allocations cross them; the timer collects.
        junk = [[] for _ in range(2 * gc.get_threshold()[0])]
        qtbot.waitUntil(lambda: bool(freed_in), timeout=5_000)
        assert freed_in == [threading.main_thread().name]
        del junk
    finally:
        assert engine.shutdown()


def test_check_collects_only_past_the_thresholds_and_only_in_the_gui_thread(qapp):
    guard = main_thread_gc.install(qapp)
    gc.collect()
    assert guard.check() == -1  # nothing allocated since: nothing to do
    junk = [[] for _ in range(guard.threshold[0] + 10)]
    assert guard.check() >= 0
    del junk

    errors: list[BaseException] = []

    def elsewhere():
        try:
            guard.check()
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert errors and "GUI thread" in str(errors[0])


def test_interval_must_be_positive(qapp):
    with pytest.raises(ValueError, match="interval_ms"):
        main_thread_gc.MainThreadGC(interval_ms=0)
