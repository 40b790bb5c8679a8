"""The resumable training state: `<output>.state.pt`, rewritten atomically after every epoch.

One file (not accelerate's save_state folder): the app deletes a cancelled run by its three
paths (model, sidecar, state), and the state also carries what the final sidecar needs (the
best epoch's weights, the history) so a resumed run ends exactly as an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hipvision.core.atomic import atomic_path
from hipvision.ml.checkpoint import CheckpointError


def state_path(output: str | Path) -> Path:
    """Where a run writing the model `output` keeps its resumable state."""
    output = Path(output)
    return output.with_name(output.stem + ".state.pt")


def save_state(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: Path, backbones: list[str]) -> dict:
    """The saved state, checked to belong to networks with these backbones."""
    st = torch.load(path, map_location="cpu", weights_only=True)
    if st.get("config_backbones") != backbones:
        raise CheckpointError(path, "training state belongs to another architecture; delete it or change --backbone")
    return st
