"""Shared test set-up: headless Qt, few threads, small phantom data made once per session."""

import os

# Must be set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# CI has 2 cores; oversubscribed BLAS/torch threads make everything slower, not faster.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Never reach for a model hub in tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HIPVISION_OFFLINE", "1")
# The GUI tests run engine jobs in the engine's thread (fast, and their local job functions
# cannot travel to a process); tests/gui/test_engine_process.py drives the app's real backend,
# the child process, on purpose.
os.environ.setdefault("HIPVISION_ENGINE", "thread")

import sys  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _collect_cycles_in_the_gui_thread():
    """Once an Engine or the app turned automatic collection off (hipvision/gui/main_thread_gc.py),
    a test that never waits in the event loop would never collect; collect here, in the main
    thread, where Qt objects in cycles may be destroyed."""
    yield
    module = sys.modules.get("hipvision.gui.main_thread_gc")
    guard = module.installed() if module is not None else None
    if guard is not None:
        guard.check()
