"""What a keypoint training run is asked to do (`TrainConfig`) and what it did (`TrainResult`).

Every field carries its help text in `metadata["help"]`: `hipvision train` derives one flag per
field from it (commands/train.py), so a new knob is documented and reachable in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix

# The config imports no torch: `hipvision train --help` builds its flags from it, and every CLI
# command pays for what the parser imports. The ml modules are imported when a config is made.
if TYPE_CHECKING:
    from hipvision.ml.data import AugmentConfig

DEFAULT_BACKBONE = "resnet18"  # ml.zoo.DEFAULT_BACKBONE (a test keeps them equal)


def _default_augment():
    from hipvision.ml.data import AugmentConfig

    return AugmentConfig()


def _f(default, help: str, **kw):
    """A dataclass field with its CLI help text."""
    return field(default=default, metadata={"help": help}, **kw)


FREEZE = ("none", "stem", "backbone")

# How models were trained before a TrainConfig field existed (for comparing old sidecars).
LEGACY_DEFAULTS = {"synthetic_share": None, "synthetic_until": 1.0, "freeze": "none", "keep": "best"}


@dataclass(frozen=True)
class TrainConfig:
    backbone: str = _f(DEFAULT_BACKBONE, "zoo backbone (see `hipvision models`)")
    stage2_backbone: str | None = _f(None, "backbone of the hip-crop stage (default: --backbone)")
    head: str = _f("heatmap", "heatmap (soft-argmax) or regression (the poster's MSE regression)")
    input_size: int = _f(256, "whole-image input side, letterboxed square (multiple of 32)")
    crop_size: int = _f(160, "hip-crop input side (multiple of 32)")
    crop_factor: float = _f(6.0, "hip-crop side in head radii")
    channels: int = _f(64, "heatmap head width")
    epochs: int = _f(30, "training epochs")
    batch_size: int = _f(8, "radiographs per batch (per process)")
    lr: float = _f(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = _f(1e-4, "AdamW weight decay")
    warmup_epochs: float = _f(1.0, "linear learning-rate warm-up, in epochs")
    min_lr_ratio: float = _f(0.02, "the cosine decay ends at this fraction of --lr")
    ema: bool = _f(False, "keep an exponential moving average of the weights and validate/ship it")
    ema_decay: float = _f(0.998, "EMA decay per step")
    patience: int = _f(10, "epochs without a better validation NA MAE before stopping (0: never stop early)")
    min_samples_per_epoch: int = _f(0, "repeat small data sets (augmented) to at least this many samples per epoch")
    crops_per_hip: int = _f(1, "stage-2 crops per hip per sample, differently jittered")
    # Synthetic images (Sample.source == "synthetic"), when the data has any (core.synthetic_mix).
    synthetic_share: float | None = _f(DEFAULT_SHARE, "share of each epoch's samples drawn from synthetic images, "
                                                      "or 'count' (in proportion to their number)")
    synthetic_until: float = _f(DEFAULT_UNTIL, "share of the epochs that use synthetic images; the rest fine-tune "
                                               "on real images only (1: all epochs)")
    seed: int = _f(0, "random seed (weights, augmentation, order)")
    device: str = _f("auto", "auto, cpu, cuda[:N] or mps")
    amp: bool = _f(True, "mixed precision (CUDA only)")
    threads: int | None = _f(None, "CPU threads (default: OMP_NUM_THREADS or cores - 1)")
    num_workers: int = _f(0, "data-loading worker processes")
    pretrained: bool = _f(True, "ImageNet weights when reachable (random init offline, with a notice)")
    init_from: str | None = _f(None, "warm start from this .safetensors model (its architecture is used)")
    resume: bool = _f(False, "continue an interrupted run from <output>.state.pt (same --out)")
    output: str | None = _f(None, "model file (.safetensors); default: the project's models folder or ./")
    name: str | None = _f(None, "model id / name (default: the file name)")
    train_splits: tuple[str, ...] = _f(("train",), "project splits to train on (comma-separated)")
    val_splits: tuple[str, ...] = _f(("val",), "project splits to validate on (comma-separated)")
    trained_on: str | None = _f(None, "label stored with the model, e.g. phantoms (default: guessed from the data)")
    augment: AugmentConfig = field(default_factory=_default_augment, metadata={
        "help": "training augmentations: 'off', or AugmentConfig fields as name=value,... (e.g. rotate_deg=4,flip=0)"})
    freeze: str = _f("none", "backbone layers not trained: none, stem (up to the first feature map: few-shot "
                             "fine-tuning) or backbone (only the heads learn)")
    keep: str = _f("best", "which weights to ship: best (validation epoch) or last (no per-epoch validation: "
                           "few-shot runs, whose one or two validation images would pick an epoch by luck)")
    refine_iters: int = _f(2, "stage-2 refinement passes")
    val_tta: bool = _f(False, "flip TTA during validation (slower; final evaluation uses the Predictor's)")
    max_val_images: int = _f(0, "validate on at most this many images (0: all)")
    save_half: bool = _f(False, "store float16 weights (half the file size)")

    def __post_init__(self) -> None:
        from hipvision.ml.model import HEADS
        from hipvision.ml.pipeline import PipelineOptions
        from hipvision.ml.zoo import check_backbone_name

        check_backbone_name(self.backbone)
        if self.stage2_backbone is not None:
            check_backbone_name(self.stage2_backbone)
        if self.head not in HEADS:
            raise ValueError(f"TrainConfig.head must be one of {HEADS}, got {self.head!r}")
        for name, lo, hi in (("input_size", 64, 1024), ("crop_size", 64, 512)):
            v = getattr(self, name)
            if not isinstance(v, int) or not lo <= v <= hi or v % 32:
                raise ValueError(f"TrainConfig.{name} must be a multiple of 32 in {lo}..{hi}, got {v!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {v!r}")
        for name in ("lr", "weight_decay", "warmup_epochs", "min_lr_ratio"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"TrainConfig.{name} must be a finite number >= 0, got {v!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not 0 < self.ema_decay < 1:
            raise ValueError(f"TrainConfig.ema_decay must be in (0, 1), got {self.ema_decay!r}")
        if not isinstance(self.crops_per_hip, int) or not 1 <= self.crops_per_hip <= 8:
            raise ValueError(f"TrainConfig.crops_per_hip must be an int in 1..8, got {self.crops_per_hip!r}")
        check_mix(self.synthetic_share, self.synthetic_until, "TrainConfig.")
        if self.freeze not in FREEZE:
            raise ValueError(f"TrainConfig.freeze must be one of {FREEZE}, got {self.freeze!r}")
        if self.keep not in ("best", "last"):
            raise ValueError(f"TrainConfig.keep must be 'best' or 'last', got {self.keep!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"TrainConfig.patience must be an int >= 0, got {self.patience!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"TrainConfig.seed must be an int, got {self.seed!r}")
        if self.output is not None and not str(self.output).endswith(".safetensors"):
            raise ValueError(f"TrainConfig.output must end in .safetensors, got {self.output!r}")
        object.__setattr__(self, "train_splits", tuple(self.train_splits))
        object.__setattr__(self, "val_splits", tuple(self.val_splits))
        PipelineOptions(crop_factor=self.crop_factor, refine_iters=self.refine_iters)  # validates both

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["augment"] = asdict(self.augment)
        return d


@dataclass
class TrainResult:
    checkpoint: Path
    model_id: str
    metrics: dict  # of the kept (best) epoch: val_na_mae, val_na_mape, ... (None without validation)
    history: list[dict]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    pretrained: bool
    device: str
    data_summary: dict
    seconds: float
    main_process: bool = True  # False on the other ranks under `accelerate launch` (they save nothing)

    @property
    def val_na_mae(self) -> float | None:
        return self.metrics.get("val_na_mae")
