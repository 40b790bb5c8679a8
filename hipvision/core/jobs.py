"""Qt-free pieces of long-running work: the cancel token and progress with an ETA.

Every long function in hipvision/ml has the signature `fn(config, *, progress, cancel)`;
these are the objects the CLI, the tests and the GUI engine pass in (the engine's child process
too: there the token reads a multiprocessing event the GUI's engine sets).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from hipvision.core.records import StoreError


class Cancelled(Exception):
    """Raised inside long work when its cancel token is set; nothing half-written remains."""


class CancelToken:
    """Thread-safe flag, checked by the work every batch / denoising step.

    `event` may be any object with set()/is_set() — a multiprocessing.Event, so that a job
    running in the engine's child process sees the GUI's Cancel with its existing checks."""

    def __init__(self, event=None) -> None:
        self._event = event if event is not None else threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def labelled(progress):
    """`say(label)` -> a progress callback that puts `label: ` before each message, for the parts
    of a long job (a backbone's training, a generator); silent when `progress` is None."""

    def say(label: str):
        def inner(done, total, message=""):
            if progress is not None:
                progress(done, total, f"{label}: {message}")
        return inner

    return say


def check_cancel(cancel) -> None:
    """Raise Cancelled if `cancel` (any object with is_set(), or None) is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class UserFixableError(RuntimeError):
    """A failure outside the program that the user can fix (a server down, refused credentials,
    a wrong address): its text is one line for the user, and a traceback would only hide it.
    The base of such errors from optional parts (pacs.PacsError), so that this module, which
    must not import them, still knows them as expected."""


# Failures a job reports on purpose (bad input, a missing file or setting): the message is for the
# user; a traceback is kept for everything else, which is a bug.
# A project that cannot be written (read-only, full disk) is the user's environment too: the
# store's StoreError names the database and why.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, StoreError,
                   UserFixableError)


def friendly_error(exc: BaseException) -> str:
    """One readable line for the user; the traceback goes to the log."""
    text = str(exc) or type(exc).__name__
    if "out of memory" in text.lower() and ("cuda" in text.lower() or type(exc).__name__ == "OutOfMemoryError"):
        return ("The GPU ran out of memory. Try a smaller batch size or input size, "
                "or choose the CPU in Preferences → Device.")
    plain = (ValueError, RuntimeError, OSError, StoreError)  # their text is written for the user
    return text if isinstance(exc, plain) else f"{type(exc).__name__}: {text}"


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
