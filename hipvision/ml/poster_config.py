"""Settings of `hipvision experiment --protocol poster` and its backbone presets.

Nothing heavy at import: the CLI reads the presets before torch loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# The poster's data: 219 real training images, 307 DDPM and 967 DreamBooth images added.
POSTER_REAL, POSTER_DDPM, POSTER_DREAMBOOTH = 219, 307, 967
POSTER_PER_REAL = (POSTER_DDPM + POSTER_DREAMBOOTH) / POSTER_REAL  # 5.82 generated per real image
POSTER_MEAN_IMPROVEMENT = 35.3  # % lower NA MAPE with the generated images, mean of 18 CNNs

# Synthetic pools of the poster protocol and the table's arm each one feeds.
POOLS = ("unconditional", "conditional")
POOL_ARMS = {"unconditional": "with", "conditional": "with_conditional"}

# The poster's three named CNNs, then 15 more ImageNet CNNs of the zoo (18, as the poster screened).
POSTER_NAMED = ("squeezenet1_1", "efficientnet_b0", "densenet161")
POSTER18 = POSTER_NAMED + (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "wide_resnet50_2", "densenet121",
    "efficientnet_b3", "mobilenetv2_100", "mobilenetv3_large_100", "mnasnet_100", "ghostnet_100", "regnety_008",
    "vgg16_bn", "inception_v3")
# Two CPU cores: the poster's two light named CNNs and the app's default, at 128 px (DenseNet161
# alone would take longer than the whole subset). See docs/synthetic.md for the measured time.
POSTER_CPU = ("squeezenet1_1", "efficientnet_b0", "resnet18")
PRESETS = {"poster18": POSTER18, "poster-cpu": POSTER_CPU}
PRESET_INPUT_SIZE = {"poster-cpu": 128}


def expand_backbones(names) -> tuple[str, ...]:
    """Backbone names with presets (poster18, poster-cpu) expanded, in order, each once."""
    out: list[str] = []
    for n in names:
        for b in PRESETS.get(n.strip(), (n.strip(),)):
            if b and b not in out:
                out.append(b)
    return tuple(out)


@dataclass(frozen=True)
class PosterConfig:
    """What only the poster protocol needs; epochs, lr, batch size, input size, seed and
    ImageNet weights come from the ExperimentConfig that holds this."""

    finetune_epochs: int = 5
    finetune_lr_factor: float = 0.1
    synthetic: int | None = None  # generated images per synthetic arm (None: per_real x labelled)
    per_real: float = POSTER_PER_REAL
    pools: tuple[str, ...] = POOLS
    label_model: str | None = None  # labels DDPM/DreamBooth images and gates all (None: project's active)
    min_confidence: float = 0.5  # gate of the unlabelled images: lowest landmark confidence
    ddpm_generator: Path | str | None = None  # an already trained DDPM folder (else one is trained)
    ddpm_resolution: int = 128
    ddpm_steps: int = 3000
    ddpm_scheduler: str = "ddim"  # ddim (sample_steps) or ddpm (1000 steps, as the poster)
    dreambooth_generator: Path | str | None = None  # an already trained LoRA folder
    base_model: str | None = None  # Stable Diffusion folder to train DreamBooth (else the app's settings)
    dreambooth_steps: int = 400
    dreambooth_resolution: int = 512
    ours_backbone: str | None = "resnet18"  # our two-stage model beside the table (None: leave it out)

    def __post_init__(self) -> None:
        pools = tuple(p.strip() for p in self.pools if p.strip())
        if not pools or any(p not in POOLS for p in pools) or len(set(pools)) != len(pools):
            raise ValueError(f"pools: one or both of {', '.join(POOLS)}, got {', '.join(self.pools) or 'none'}")
        object.__setattr__(self, "pools", pools)
        for name, lo in (("finetune_epochs", 0), ("ddpm_steps", 1), ("dreambooth_steps", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")
        if self.synthetic is not None and (not isinstance(self.synthetic, int) or self.synthetic < 1):
            raise ValueError(f"synthetic: must be a positive integer or None, got {self.synthetic!r}")
        for name in ("per_real", "finetune_lr_factor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: must be a positive number, got {v!r}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence: must be in [0, 1], got {self.min_confidence!r}")
        if self.ddpm_scheduler not in ("ddim", "ddpm"):
            raise ValueError(f"ddpm_scheduler: must be ddim or ddpm, got {self.ddpm_scheduler!r}")
        for name in ("ddpm_generator", "dreambooth_generator"):
            v = getattr(self, name)
            if v is not None and not (Path(v) / "generator.json").is_file():
                raise ValueError(f"{name}: {v} is not a trained generator folder (no generator.json)")
        if self.ours_backbone is not None:
            from hipvision.ml.zoo import check_backbone_name

            check_backbone_name(self.ours_backbone)

    def count(self, labelled: int) -> int:
        """Generated images per synthetic arm for `labelled` real training images."""
        return self.synthetic if self.synthetic is not None else max(1, round(self.per_real * labelled))
