"""Keypoint-model training: `TrainConfig` -> `train_keypoints` -> `TrainResult`.

config (what to do), samples (which images, which each epoch reads), steps (build models,
build data, one epoch, validate-and-save, finish), validation, state (resume), loop (the run).
"""

from hipvision.ml.training.config import LEGACY_DEFAULTS, TrainConfig, TrainResult
from hipvision.ml.training.loop import train_keypoints
from hipvision.ml.training.state import state_path

__all__ = ["LEGACY_DEFAULTS", "TrainConfig", "TrainResult", "state_path", "train_keypoints"]
