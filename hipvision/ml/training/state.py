"""The resumable training state: `<output>.state.pt`, rewritten atomically after every epoch.

One file (not accelerate's save_state folder): the app deletes a cancelled run by its three
paths (model, sidecar, state), and the state also carries what the final sidecar needs (the
best epoch's weights, the history) so a resumed run ends exactly as an uninterrupted one.

A run without an explicit output gets a timestamped name, so `--resume` alone finds the run
to continue by looking for the newest state file of that kind (`latest_state`).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from hipvision.core.atomic import atomic_path
from hipvision.ml.checkpoint import CheckpointError

STATE_SUFFIX = ".state.pt"
# What restore() reads; a file without them is not a state this version wrote.
REQUIRED_KEYS = ("epoch", "model", "optimizer", "scheduler", "best", "best_epoch", "config_backbones")


def state_path(output: str | Path) -> Path:
    """Where a run writing the model `output` keeps its resumable state."""
    output = Path(output)
    return output.with_name(output.stem + STATE_SUFFIX)


def output_of_state(state: Path) -> Path:
    """The model file the run that wrote `state` was going to write."""
    return state.with_name(state.name[: -len(STATE_SUFFIX)] + ".safetensors")


def latest_state(folder: Path, prefix: str) -> Path | None:
    """The newest `<prefix>*.state.pt` in `folder` (an interrupted run's), or None."""
    found = [p for p in Path(folder).glob(f"{prefix}*{STATE_SUFFIX}") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def save_state(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def epochs_done(path: Path) -> int:
    """How many epochs the interrupted run saved in `path` had finished (a CheckpointError when
    it is no readable state). Memory-mapped: the tensors are not read."""
    return int(load_state(path, mmap=True)["epoch"]) + 1


def load_state(path: Path, backbones: list[str] | None = None, *, mmap: bool = False) -> dict:
    """The saved state, checked to be one (and, given `backbones`, to belong to networks with
    these backbones). Anything else, a hostile pickle included, is a CheckpointError naming the
    file: weights_only loading refuses to run code, and its refusal is not a user's traceback."""
    try:
        st = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:  # torch's text is a page of advice on turning the safety off
        raise CheckpointError(path, "not a training state: it holds objects a state never has, refused unread; "
                                    "delete it to start over") from None
    except Exception as exc:  # noqa: BLE001 - EOFError, RuntimeError, zipfile errors: corrupt or truncated
        raise CheckpointError(path, f"not a readable training state (corrupt or truncated: {type(exc).__name__}); "
                                    "delete it to start over") from None
    if not isinstance(st, dict) or any(k not in st for k in REQUIRED_KEYS):
        raise CheckpointError(path, "not a training state written by hipvision; delete it to start over")
    if backbones is not None and st.get("config_backbones") != backbones:
        raise CheckpointError(path, "training state belongs to another architecture; delete it or change --backbone")
    return st
