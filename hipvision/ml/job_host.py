"""The engine's child process: runs the app's jobs one at a time, away from the GUI.

The GUI's engine (gui/engine.py) spawns `serve` once and keeps it warm: models loaded by one
prediction (app_jobs' predictor cache) serve the next click. A job arrives as a reference
"module:qualname" and a pickled config; progress, metrics, previews and the result go back
over the same pipe as small tuples. Nothing here imports Qt (a spawned child must start fast)
and nothing imports torch until a job does.

Messages, child -> parent:
  ("ready", pid)                      once, when the child can take jobs
  ("progress", done, total, message)
  ("metrics", epoch, values)
  ("preview", image | ("npy", path), caption)   large arrays travel as a file, not through the pipe
  ("finished", result) | ("failed", message, traceback, expected) | ("cancelled",)
Parent -> child: ("run", job_id, ref, config, hooks, threads), or None to exit.
"""

from __future__ import annotations

import importlib
import itertools
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hipvision.core.jobs import EXPECTED_ERRORS, Cancelled, CancelToken, friendly_error

# Above this, an array is written to the spill folder and its path sent: a multi-megabyte pickle
# through a pipe costs the receiving (GUI-side) thread a copy while it holds the GIL.
SPILL_BYTES = 1 << 20


def job_ref(fn: Callable[..., Any]) -> str | None:
    """"module:qualname" when `fn` can be found again by import in another process, else None
    (a test's local function, or one in the GUI package whose import would load Qt into the
    child: the engine runs those in its thread)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or module.split(".")[:2] == ["hipvision", "gui"] or "<" in qualname:
        return None
    try:
        return f"{module}:{qualname}" if resolve(f"{module}:{qualname}") is fn else None
    except (ImportError, AttributeError):
        return None


def resolve(ref: str) -> Callable[..., Any]:
    module, _, qualname = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def load_spilled(item):
    """The parent's half of the spill: a ("npy", path) reference -> the array (file removed)."""
    if isinstance(item, tuple) and len(item) == 2 and item[0] == "npy":
        import numpy as np

        path = Path(item[1])
        try:
            return np.load(path)
        finally:
            path.unlink(missing_ok=True)
    return item


def _set_threads(threads: int | None) -> None:
    # The engine leaves the GUI a core. torch reads OMP_NUM_THREADS when it is first imported
    # (and set_cpu_threads reads it later); once imported, torch is told directly.
    if threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class _Reporter:
    """The hooks a job is given in the child: each call becomes one message to the parent."""

    def __init__(self, conn, spill_dir: str | None):
        self.conn = conn
        self.spill_dir = spill_dir
        self._n = itertools.count()

    def progress(self, done, total, message=""):
        self.conn.send(("progress", float(done), float(total), str(message)))

    def metrics(self, epoch, values):
        self.conn.send(("metrics", int(epoch), dict(values)))

    def preview(self, image, caption=""):
        self.conn.send(("preview", self._spill(image), str(caption)))

    def _spill(self, image):
        nbytes = getattr(image, "nbytes", 0)
        if self.spill_dir is None or nbytes <= SPILL_BYTES:
            return image
        import numpy as np

        path = Path(self.spill_dir) / f"preview-{next(self._n)}.npy"
        np.save(path, image)
        return ("npy", str(path))


def run_one(conn, cancel_event, spill_dir: str | None, message: tuple) -> None:
    """Run one job and send exactly one closing message: finished, failed or cancelled."""
    _, _job_id, ref, config, hooks, threads = message
    report = _Reporter(conn, spill_dir)
    cancel = CancelToken(cancel_event)
    kwargs: dict[str, Any] = {"progress": report.progress, "cancel": cancel}
    for hook in ("metrics", "preview"):
        if hook in hooks:
            kwargs[hook] = getattr(report, hook)
    try:
        _set_threads(threads)
        result = resolve(ref)(config, **kwargs)
    except Cancelled:
        conn.send(("cancelled",))
        return
    except BaseException as exc:  # noqa: BLE001 - a failed job must not end the child
        conn.send(("failed", friendly_error(exc), traceback.format_exc(), isinstance(exc, EXPECTED_ERRORS)))
        return
    if cancel.is_set():
        conn.send(("cancelled",))
        return
    try:
        conn.send(("finished", result))
    except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
        conn.send(("failed", f"the job's result could not be sent back to the window: {friendly_error(exc)}",
                   traceback.format_exc(), False))


def serve(conn, cancel_event, spill_dir: str | None = None) -> None:
    """The child's main loop: take jobs until the parent sends None or goes away."""
    # Ctrl+C in a terminal reaches the whole process group: the window decides what stops, and
    # tells this process through the cancel event, so a job is never cut off by a stray SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
            if message is None:
                return
            run_one(conn, cancel_event, spill_dir, message)
        except (EOFError, OSError):  # the parent is gone: nothing is left to report to
            return
