"""Keypoint-model training: `TrainConfig` -> `train_keypoints` -> `TrainResult`.

config (what to do), samples (which images, which each epoch reads), steps (build models,
build data, one epoch, validate-and-save, finish), validation, state (resume), loop (the run).

Names are loaded on first use: the CLI builds `hipvision train`'s flags from the config without
importing torch, which every other command would otherwise pay for at start-up.
"""

import importlib

_WHERE = {"LEGACY_DEFAULTS": "config", "TrainConfig": "config", "TrainResult": "config",
          "train_keypoints": "loop", "state_path": "state"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
