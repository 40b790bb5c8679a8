"""A retrieve that holds after each image until the test lets it go on: importable by name, so the
engine's child process runs it too (a monkeypatch would not reach that process)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hipvision.pacs import jobs as pacs_jobs

GATE_ENV = "HIPVISION_TEST_RETRIEVE_GATE"  # a file path holding n: image k waits until k <= n
_retrieve = pacs_jobs.retrieve  # the real one, before a test puts held_retrieve in its place


def _let_through(gate: Path) -> int:
    try:
        return int(gate.read_text() or 0)
    except (FileNotFoundError, ValueError):  # not yet written, or caught mid-write
        return 0


def held_retrieve(config, *, progress=None, cancel=None, preview=None):
    gate = Path(os.environ[GATE_ENV])
    arrived = 0

    def announce_then_wait(path, name):
        nonlocal arrived
        arrived += 1
        preview(path, name)
        deadline = time.monotonic() + 30
        while _let_through(gate) < arrived and time.monotonic() < deadline and not (cancel and cancel.is_set()):
            time.sleep(0.02)

    return _retrieve(config, progress=progress, cancel=cancel, preview=announce_then_wait)


def open_gate(gate: Path, n: int) -> None:
    """Let the held retrieve go on past its n-th image."""
    tmp = gate.with_suffix(".tmp")
    tmp.write_text(str(n))
    tmp.replace(gate)
