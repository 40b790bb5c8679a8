"""The background engine: one long-lived worker QObject in one QThread.

Jobs are plain callables `fn(config, *, progress, cancel, **hooks)` from hipvision/ml (or
tests). They queue on the worker thread's event loop, so exactly one runs at a time (one
GPU). The worker never touches widgets: it only emits signals, which Qt delivers to the GUI
thread. Cancel sets a thread-safe token that the job checks every batch / denoising step;
QThread.terminate() is never used, so a cancelled job cannot leave a half-written file.
torch is imported by the job functions, i.e. in this thread, the first time one runs.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from hipvision.core.jobs import Cancelled, CancelToken, EtaEstimator

log = logging.getLogger(__name__)

# Failures a job reports on purpose (bad input, a missing file or setting): the message is for the
# user; a traceback is kept for everything else, which is a bug.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError)


@dataclass
class Job:
    id: int
    kind: str  # 'predict', 'retrain', 'generate', ... (shown in the jobs panel)
    fn: Callable[..., Any]
    config: Any
    title: str = ""
    hooks: tuple[str, ...] = ()  # optional callbacks the fn accepts: 'metrics', 'preview'
    cancel: CancelToken = field(default_factory=CancelToken)


def friendly_error(exc: BaseException) -> str:
    """One readable line for the user; the traceback goes to the log."""
    text = str(exc) or type(exc).__name__
    if "out of memory" in text.lower() and ("cuda" in text.lower() or type(exc).__name__ == "OutOfMemoryError"):
        return ("The GPU ran out of memory. Try a smaller batch size or input size, "
                "or choose the CPU in Preferences → Device.")
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, (ValueError, RuntimeError, OSError)) else text


class _JobSignals(QObject):
    """The job signals, declared once: the worker emits them, the Engine relays them."""

    started = Signal(int)
    progress = Signal(int, float, float, str, object)  # job id, done, total, message, eta seconds | None
    metrics = Signal(int, int, object)  # job id, epoch, {name: value}
    preview = Signal(int, object, str)  # job id, numpy uint8 image, caption
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str, str)  # job id, message, traceback
    cancelled = Signal(int)

    SIGNALS = ("started", "progress", "metrics", "preview", "finished", "failed", "cancelled")


class _Worker(_JobSignals):

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.is_set():  # cancelled while queued
            self.cancelled.emit(job.id)
            return
        self.started.emit(job.id)
        eta = EtaEstimator()

        def progress(done, total, message=""):
            self.progress.emit(job.id, float(done), float(total), str(message), eta.update(done, total))

        kwargs: dict[str, Any] = {"progress": progress, "cancel": job.cancel}
        if "metrics" in job.hooks:
            kwargs["metrics"] = lambda epoch, values: self.metrics.emit(job.id, int(epoch), dict(values))
        if "preview" in job.hooks:
            kwargs["preview"] = lambda image, caption="": self.preview.emit(job.id, image, caption)
        try:
            result = job.fn(job.config, **kwargs)
        except Cancelled:
            self.cancelled.emit(job.id)
        except BaseException as exc:  # noqa: BLE001 - a job must never take the thread down
            tb = traceback.format_exc()
            if isinstance(exc, EXPECTED_ERRORS):  # the user's to fix (a setting, missing data): no traceback
                log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
            else:
                log.error("job %s (%s) failed:\n%s", job.id, job.kind, tb)
            self.failed.emit(job.id, friendly_error(exc), tb)
        else:
            if job.cancel.is_set():
                self.cancelled.emit(job.id)
            else:
                self.finished.emit(job.id, result)


class Engine(_JobSignals):
    """Queue jobs with `submit`; listen to the signals; `shutdown()` on close.

    The public signals are the Engine's own, relayed from the worker with queued
    connections: they are emitted in the GUI thread, so any listener (a widget, a test's
    waitSignal) runs there, never in the worker thread."""

    _enqueue = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("hipvision-engine")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._enqueue.connect(self._worker.run)  # queued connection: runs in the worker thread
        self._ids = itertools.count(1)
        self.jobs: dict[int, Job] = {}
        self.active: set[int] = set()
        w = self._worker
        for name in self.SIGNALS:
            getattr(w, name).connect(getattr(self, name), Qt.ConnectionType.QueuedConnection)
        # Connected before any listener: a job is no longer active when its listeners hear of it.
        for sig in (self.finished, self.failed, self.cancelled):
            sig.connect(self._forget)
        self._thread.start()

    def submit(self, kind: str, fn: Callable[..., Any], config: Any, *, title: str = "",
               hooks: tuple[str, ...] = ()) -> Job:
        job = Job(next(self._ids), kind, fn, config, title or kind, hooks)
        self.jobs[job.id] = job
        self.active.add(job.id)
        self._enqueue.emit(job)
        return job

    def cancel(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.cancel.set()

    def cancel_all(self) -> None:
        for job_id in list(self.active):
            self.cancel(job_id)

    def busy(self) -> bool:
        return bool(self.active)

    @Slot(int)
    def _forget(self, job_id: int, *_):
        self.active.discard(job_id)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, then wait for the running job to notice. True if it stopped."""
        self.cancel_all()
        self._thread.quit()
        return self._thread.wait(timeout_ms)
