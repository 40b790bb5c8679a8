"""Where torch work runs: CUDA, else Apple MPS, else CPU; and how many CPU threads it uses."""

from __future__ import annotations

import os

import torch

from hipvision.core.settings import DEVICES


def pick_device(preference: str = "auto") -> torch.device:
    pref = (preference or "auto").lower()
    if pref not in DEVICES and not pref.startswith("cuda:"):
        raise ValueError(f"device must be one of {DEVICES} (or cuda:N), got {preference!r}")
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {preference!r} requested but CUDA is not available on this machine")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but Apple MPS is not available on this machine")
    return torch.device(pref)


def set_cpu_threads(threads: int | None) -> int:
    """Use `threads` intra-op threads (None: OMP_NUM_THREADS, else all cores but one, at least 1).

    Oversubscribing a shared machine makes every job slower, so the default leaves a core
    for the GUI and for the data pipeline."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "").strip()
        threads = int(env) if env.isdigit() and int(env) > 0 else max(1, (os.cpu_count() or 2) - 1)
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
