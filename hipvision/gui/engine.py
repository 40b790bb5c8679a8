"""The background engine: one long-lived worker QObject in one QThread, driving a child process.

Jobs are plain callables `fn(config, *, progress, cancel, **hooks)` from hipvision/ml (or
tests). They queue on the worker thread's event loop, so exactly one runs at a time (one
GPU). The worker never touches widgets: it only emits signals, which Qt delivers to the GUI
thread.

Backends:
- "process" (the app's): the worker is a pump. It sends each job to one long-lived child
  process (spawned, never forked: a forked Qt process is unsafe; see hipvision/ml/job_host.py)
  and relays the child's messages as the same signals. torch, model loading and image decoding
  hold the child's GIL, not the GUI's, and a crash in a native library, CUDA or the OOM killer
  ends the child, not the window. The child stays warm between jobs (loaded models serve the
  next prediction); one that died is replaced at the next job. Cancel sets an event the job's
  token reads; a job that has not stopped within `grace_s` is killed, and what it left in the
  project is removed here (core/folder_snapshot.py), so Cancel is always prompt and always safe.
  A job whose function cannot be imported by another process (a test's local function) runs
  in the worker thread, as with the "thread" backend.
- "thread": every job runs in the worker thread (the tests' default: HIPVISION_ENGINE=thread).
  Cancel sets a token that the job checks every batch; QThread.terminate() is never used.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing.util  # noqa: F401 - its exit hook must be registered before ours (see _end_children)
import os
import pickle
import shutil
import signal
import tempfile
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from hipvision.core.jobs import EXPECTED_ERRORS, Cancelled, CancelToken, EtaEstimator, friendly_error

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "EXPECTED_ERRORS", "Engine", "Job", "friendly_error"]

BACKENDS = ("process", "thread")
ENV_BACKEND = "HIPVISION_ENGINE"
CANCEL_GRACE_S = 2.0  # a cancelled job gets this long to stop by itself before its process is killed
START_TIMEOUT_S = 120.0  # a child that has not said "ready" by then is not going to


@dataclass
class Job:
    id: int
    kind: str  # 'predict', 'retrain', 'generate', ... (shown in the jobs panel)
    fn: Callable[..., Any]
    config: Any
    title: str = ""
    hooks: tuple[str, ...] = ()  # optional callbacks the fn accepts: 'metrics', 'preview'
    cancel: CancelToken = field(default_factory=CancelToken)


def death_reason(exitcode: int | None) -> str:
    """Why the child ended, in words for the jobs panel."""
    tail = "nothing half-written was kept, and the next job starts a fresh engine"
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return f"the engine process was killed (SIGKILL) — possibly out of memory; {tail}"
        if name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL", "SIGFPE"):
            return f"the engine process crashed ({name}) in a native library; {tail}"
        return f"the engine process was stopped ({name}); {tail}"
    if exitcode is None:
        return f"the engine process stopped answering; {tail}"
    return f"the engine process ended unexpectedly (exit code {exitcode}); {tail}"


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


class _Child:
    """One spawned job host: its process, its end of the pipe, its cancel event, its spill folder."""

    def __init__(self) -> None:
        from hipvision.ml import job_host  # torch-free: the child imports torch when a job needs it

        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.cancel_event = ctx.Event()
        self.spill_dir = tempfile.mkdtemp(prefix="hipvision-engine-")
        t0 = time.perf_counter()
        # Not a daemon: a daemonic process may not start DataLoader workers. The atexit hook and
        # the pipe's EOF (serve returns when the parent is gone) end it instead.
        self.process = ctx.Process(target=job_host.serve, args=(child_conn, self.cancel_event, self.spill_dir),
                                   name="hipvision-engine", daemon=False)
        self.process.start()
        child_conn.close()  # only the child holds it now: its death reads as EOF here
        _LIVE.add(self)
        try:
            if not self.conn.poll(START_TIMEOUT_S):
                raise RuntimeError(f"the engine process did not start within {START_TIMEOUT_S:.0f} s")
            tag, pid = self.conn.recv()
        except (EOFError, OSError, RuntimeError) as exc:
            self.kill()
            raise RuntimeError(f"the engine process could not start: {exc or death_reason(self.process.exitcode)}") \
                from None
        if tag != "ready":
            self.kill()
            raise RuntimeError(f"the engine process could not start: unexpected message {tag!r}")
        self.pid = int(pid)
        self.start_s = time.perf_counter() - t0

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the child to exit (between jobs); kill it if it does not."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout_s)
        self.kill()

    def kill(self) -> int | None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)
        self.conn.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        _LIVE.discard(self)
        return self.process.exitcode


_LIVE: weakref.WeakSet[_Child] = weakref.WeakSet()


@atexit.register
def _end_children() -> None:
    # Registered after multiprocessing's own exit hook (this module imports it first), so this
    # runs before it: a child left running would otherwise make the interpreter wait for it.
    for child in list(_LIVE):
        child.kill()


def _child_threads() -> int | None:
    """torch threads in the child: all cores but one, so the GUI always has one (None: the user's
    OMP_NUM_THREADS decides). Predictions too: on a loaded 2-core machine a click-to-place took
    1.3 s on two threads and 0.27 s on one (bench engine), as OpenMP threads wait on each other."""
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return None
    return max(1, (os.cpu_count() or 2) - 1)


class _Worker(_JobSignals):

    def __init__(self, backend: str, grace_s: float):
        super().__init__()
        self.backend = backend
        self.grace_s = grace_s
        self.child: _Child | None = None
        self.child_starts: list[float] = []  # seconds each child took to say "ready" (the bench reads it)

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.is_set():  # cancelled while queued
            self.cancelled.emit(job.id)
            return
        ref = None
        if self.backend == "process":
            from hipvision.ml.job_host import job_ref

            ref = job_ref(job.fn)
        try:
            if ref is None:
                self._run_here(job)
            else:
                self._run_in_child(job, ref)
        except Exception as exc:  # noqa: BLE001 - a bug in the pump must still end the job, not hang it
            self._bury(None)
            self._fail(job, f"the engine failed: {friendly_error(exc)}", traceback.format_exc(), False)

    # ------------------------------------------------------------ thread backend

    def _run_here(self, job: Job) -> None:
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
            self._fail(job, friendly_error(exc), traceback.format_exc(), isinstance(exc, EXPECTED_ERRORS))
        else:
            if job.cancel.is_set():
                self.cancelled.emit(job.id)
            else:
                self.finished.emit(job.id, result)

    def _fail(self, job: Job, message: str, tb: str, expected: bool) -> None:
        if expected:  # the user's to fix (a setting, missing data): no traceback
            log.warning("job %s (%s) failed: %s", job.id, job.kind, message)
        else:
            log.error("job %s (%s) failed:\n%s", job.id, job.kind, tb)
        self.failed.emit(job.id, message, tb)

    # ------------------------------------------------------------ process backend

    def _ensure_child(self) -> _Child:
        if self.child is not None and not self.child.alive():
            self._bury(None)
        if self.child is None:
            self.child = _Child()
            self.child_starts.append(self.child.start_s)
            log.info("engine process %s started in %.2f s", self.child.pid, self.child.start_s)
        return self.child

    def _bury(self, before) -> int | None:
        """Kill the child (if alive), forget it, and remove what its job left in the project."""
        child, self.child = self.child, None
        code = child.kill() if child is not None else None
        if before is not None:
            from hipvision.core.folder_snapshot import remove_new_files

            try:
                remove_new_files(before)
            except Exception:  # noqa: BLE001 - cleaning up must not hide why the job ended
                log.exception("could not clean up after the engine process")
        return code

    def _run_in_child(self, job: Job, ref: str) -> None:
        from hipvision.core.folder_snapshot import snapshot

        try:
            pickle.dumps(job.config)
        except Exception as exc:  # noqa: BLE001 - a config that cannot travel runs here, as before
            log.info("job %s (%s) runs in the engine thread: its config cannot be pickled (%s)", job.id, job.kind, exc)
            self._run_here(job)
            return
        self.started.emit(job.id)
        project_dir = getattr(job.config, "project_dir", None)
        try:
            before = snapshot(project_dir) if project_dir else None
            child = self._ensure_child()
            child.cancel_event.clear()
            child.conn.send(("run", job.id, ref, job.config, tuple(job.hooks), _child_threads()))
        except Exception as exc:  # noqa: BLE001 - a child that cannot start is the job's failure
            self._bury(None)
            self._fail(job, friendly_error(exc), traceback.format_exc(), True)
            return
        self._pump(job, child, before)

    def _pump(self, job: Job, child: _Child, before) -> None:
        from hipvision.ml.job_host import load_spilled

        eta = EtaEstimator()
        kill_at: float | None = None
        while True:
            if job.cancel.is_set() and kill_at is None:
                child.cancel_event.set()  # the job's own checks stop it cleanly, usually within a batch
                kill_at = time.monotonic() + self.grace_s
            if kill_at is not None and time.monotonic() >= kill_at:
                log.warning("job %s (%s) did not stop within %.1f s of Cancel: engine process killed",
                            job.id, job.kind, self.grace_s)
                self._bury(before)
                self.cancelled.emit(job.id)
                return
            try:
                if not child.conn.poll(0.05):
                    continue
                message = child.conn.recv()
            except (EOFError, OSError):
                code = self._bury(before)
                if job.cancel.is_set():
                    self.cancelled.emit(job.id)
                else:
                    reason = death_reason(code)
                    log.error("job %s (%s): %s", job.id, job.kind, reason)
                    self.failed.emit(job.id, reason, f"engine process exit code {code}")
                return
            except Exception as exc:  # noqa: BLE001 - a message that cannot be read (unpickling)
                self._bury(before)
                self._fail(job, f"the engine's answer could not be read: {friendly_error(exc)}",
                           traceback.format_exc(), False)
                return
            tag = message[0]
            if tag == "progress":
                _, done, total, text = message
                self.progress.emit(job.id, done, total, text, eta.update(done, total))
            elif tag == "metrics":
                self.metrics.emit(job.id, message[1], message[2])
            elif tag == "preview":
                self.preview.emit(job.id, load_spilled(message[1]), message[2])
            elif tag == "finished":
                self.finished.emit(job.id, message[1])
                return
            elif tag == "cancelled":
                self.cancelled.emit(job.id)
                return
            elif tag == "failed":
                self._fail(job, message[1], message[2], message[3])
                return

    def close_child(self) -> None:
        """Between jobs only (after the thread stopped): end the warm child."""
        child, self.child = self.child, None
        if child is not None:
            child.stop()


class Engine(_JobSignals):
    """Queue jobs with `submit`; listen to the signals; `shutdown()` on close.

    The public signals are the Engine's own, relayed from the worker with queued
    connections: they are emitted in the GUI thread, so any listener (a widget, a test's
    waitSignal) runs there, never in the worker thread."""

    _enqueue = Signal(object)

    def __init__(self, parent: QObject | None = None, *, backend: str | None = None,
                 grace_s: float = CANCEL_GRACE_S):
        super().__init__(parent)
        backend = backend or os.environ.get(ENV_BACKEND, "").strip() or "process"
        if backend not in BACKENDS:
            raise ValueError(f"Engine backend must be one of {BACKENDS}, got {backend!r} "
                             f"(from {ENV_BACKEND} if set)")
        if grace_s <= 0:
            raise ValueError(f"Engine grace_s must be > 0, got {grace_s}")
        self.backend = backend
        from hipvision.gui import main_thread_gc

        # The worker thread runs Python: the collector must not run there (see main_thread_gc).
        main_thread_gc.install()
        self._thread = QThread()
        self._thread.setObjectName("hipvision-engine")
        self._worker = _Worker(backend, grace_s)
        self._worker.moveToThread(self._thread)
        # Queued, always: the job must run in the worker thread, never synchronously in the caller.
        self._enqueue.connect(self._worker.run, Qt.ConnectionType.QueuedConnection)
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

    def child_pid(self) -> int | None:
        """The engine process's id while one runs (the bench and the tests read it)."""
        child = self._worker.child
        return child.pid if child is not None and child.alive() else None

    @property
    def child_starts(self) -> list[float]:
        return list(self._worker.child_starts)

    @Slot(int)
    def _forget(self, job_id: int, *_):
        self.active.discard(job_id)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel everything, then wait for the running job to notice (or its process to be
        killed), and end the child. True if it stopped."""
        self.cancel_all()
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            self._worker.close_child()
        return stopped
