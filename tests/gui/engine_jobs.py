"""Engine jobs for the process-backend tests: module-level and Qt-free, so the engine's child
process can import them by name (as it imports the app's jobs from hipvision.ml)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hipvision.core.jobs import check_cancel


def counting(config, *, progress, cancel, metrics=None, preview=None):
    """Steps with progress and metrics; a preview big enough to travel as a file, if asked."""
    for i in range(config["steps"]):
        check_cancel(cancel)
        time.sleep(config.get("sleep", 0.0))
        progress(i + 1, config["steps"], f"step {i + 1}")
        if metrics:
            metrics(i, {"loss": 1.0 / (i + 1)})
    if preview:
        side = config.get("preview_side", 8)
        preview(np.full((side, side), 7, np.uint8), "done")
    return {"pid": os.getpid(), "thread": threading.current_thread().name, "steps": config["steps"]}


def raises(config, *, progress, cancel):
    raise KeyError(f"no landmark called {config!r}")


@dataclass(frozen=True)
class StuckJob:
    project_dir: str  # the engine notes this project's folders before the job, to clean up after a kill
    models_dir: str


def deaf(config: StuckJob, *, progress, cancel):
    """Writes a temporary and an unregistered file into the models folder, then never checks its
    cancel token (a job stuck in a native call): only a kill stops it."""
    Path(config.models_dir, ".stray.safetensors.tmp").write_bytes(b"half")
    Path(config.models_dir, "unregistered.safetensors").write_bytes(b"whole but unregistered")
    progress(0, 1, "stuck")
    while True:
        time.sleep(0.05)


def heavy_modules_loaded(config, *, progress, cancel):
    """Which of Qt and torch the child process has imported (it must never load Qt)."""
    import sys

    return sorted(m for m in ("PySide6", "pyqtgraph", "torch") if m in sys.modules)
