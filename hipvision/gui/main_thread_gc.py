"""Python's cyclic garbage collector, run only in the GUI thread.

Left automatic, the collector runs in whichever thread happens to allocate when a threshold
is crossed. If that is the engine's worker thread (a job decoding JSON, building a DICOM), a
collected cycle that holds a Qt object (a closed dialog, a window's lambda) is destroyed there,
and Qt objects destroyed outside their thread crash the process: a CI run died with SIGSEGV
while a PACS send job parsed highdicom's JSON in the worker thread. So, as pyqtgraph's
GarbageCollector does, automatic collection is turned off and the same thresholds are checked
on a timer in the GUI thread. Reference counting (which frees almost everything) is unchanged;
only cycles wait for the timer, at most `interval_ms`. Installed by the QApplication's maker
(gui/app.py) and by every Engine, since both start threads that run Python (the image decoder's
pool, the engine's worker).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 500

_installed: MainThreadGC | None = None


class MainThreadGC(QObject):
    """Turns automatic collection off and collects, generation by generation, on a timer."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be > 0, got {interval_ms}")
        self.threshold = gc.get_threshold()
        self.collections = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()

    def check(self) -> int:
        """Collect the generations whose counts crossed their thresholds; returns the highest
        generation collected (-1: none). Call only in the GUI thread."""
        if QThread.currentThread() is not self.thread():
            raise RuntimeError("MainThreadGC.check must run in the GUI thread")
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        generation = 2 if (c0 > t0 and c1 > t1 and c2 > t2) else 1 if (c0 > t0 and c1 > t1) else \
            0 if c0 > t0 else -1
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1
        return generation

    def stop(self) -> None:
        """Give collection back to Python (automatic, any thread)."""
        self.timer.stop()
        gc.enable()


def install(app: QCoreApplication | None = None) -> MainThreadGC:
    """Install the collector once per process (idempotent); it lives as long as the app."""
    global _installed
    if _installed is None:
        app = app or QCoreApplication.instance()
        if app is None:
            raise RuntimeError("install() needs a QApplication")
        if QThread.currentThread() is not app.thread():
            raise RuntimeError("install() must run in the GUI thread")
        _installed = MainThreadGC(app)
    return _installed


def installed() -> MainThreadGC | None:
    return _installed
