"""Qt-free pieces of long-running work: the cancel token and progress with an ETA.

Every long function in hipvision/ml has the signature `fn(config, *, progress, cancel)`;
these are the objects the CLI, the tests and the GUI engine pass in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


class Cancelled(Exception):
    """Raised inside long work when its cancel token is set; nothing half-written remains."""


class CancelToken:
    """Thread-safe flag, checked by the work every batch / denoising step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check_cancel(cancel) -> None:
    """Raise Cancelled if `cancel` (any object with is_set(), or None) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


@dataclass
class EtaEstimator:
    """Seconds left from the rate since the first report (robust to a slow first step)."""

    started: float | None = None
    first_done: float = 0.0

    def update(self, done: float, total: float) -> float | None:
        now = time.monotonic()
        if self.started is None or done < self.first_done:
            self.started, self.first_done = now, done
            return None
        if total <= 0 or done <= self.first_done:
            return None
        rate = (done - self.first_done) / max(now - self.started, 1e-9)
        return max(total - done, 0.0) / rate if rate > 0 else None
