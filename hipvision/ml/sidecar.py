"""A model's JSON sidecar, read without torch: the GUI lists models (and the bundled one) from
their sidecars, and `import torch` costs seconds that the window must not wait for."""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_MODEL_FILE = "default.safetensors"  # the bundled model, in core.resources.default_model_dir()
FORMAT = "hipvision-keypoints"
FORMAT_VERSION = 1

class CheckpointError(ValueError):
    """A model file that cannot be used; str() names the file and the problem."""

    def __init__(self, path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def sidecar_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def read_sidecar(path: str | Path) -> dict:
    """The validated sidecar of a weights file (no weights loaded)."""
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file():
        raise CheckpointError(path, "model file not found")
    if not side.is_file():
        raise CheckpointError(path, f"its sidecar {side.name} is missing (a model is a .safetensors + .json pair)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(side, f"sidecar is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(side, f"not a HipVision keypoint model sidecar (format {found!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(side, f"format version {meta.get('format_version')!r} is not supported "
                                    f"(this hipvision reads version {FORMAT_VERSION}); update hipvision")
    for key in ("stage1", "weights_sha256", "pipeline"):
        if key not in meta:
            raise CheckpointError(side, f"sidecar lacks {key!r}")
    return meta
