"""`retrain --synthetic N`: the seed's question on the clinic's own images.

Before the keypoint fine-tune, a landmark-conditioned DDPM is trained on the project's corrected
training images (never its validation images: they judge the result), and N of its images, labelled
exactly by their condition and passed through the quality gate, are added to the project as
synthetic training images. The retrain then mixes them in by the Preferences' share. On CPU the
generator is small (64 px, a step budget that grows with the number of corrected images), so
this measures what a clinic's computer can do, not what a GPU could.
"""

from __future__ import annotations

from dataclasses import dataclass

# Denoiser steps per corrected image, within these bounds: ~1-2 min on 2 CPU cores for 6 images.
STEPS_PER_IMAGE = 60
MIN_STEPS, MAX_STEPS = 200, 1500


@dataclass(frozen=True)
class SyntheticReport:
    requested: int
    accepted: int
    rejected: int
    summary: str
    steps: int


def add_synthetic(project_dir: str, n: int, *, n_images: int, device: str = "auto", seed: int = 0,
                  generator: dict | None = None, progress=None, cancel=None) -> SyntheticReport:
    """Train the project's conditional generator afresh and add `n` gated images to it."""
    import shutil

    from hipvision.core.store import Project
    from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
    from hipvision.ml.diffusion.generation import (
        GenerateConfig,
        GeneratorTrainConfig,
        generate_into_project,
        generator_dir,
        train_generator,
    )

    steps = min(MAX_STEPS, max(MIN_STEPS, STEPS_PER_IMAGE * n_images))
    kw = {"resolution": 64, "unet_size": "small", "batch_size": 8, "max_steps": steps, "warmup_steps": 20,
          "checkpoint_every": 0, "resume": False, "seed": seed, "device": device, **(generator or {})}
    train = DenoiserTrainConfig(**kw)
    with Project.open(project_dir, create=False) as project:
        # A generator left from an earlier retrain learnt fewer corrections: start it afresh.
        shutil.rmtree(generator_dir(project, "conditional"), ignore_errors=True)
    train_generator(GeneratorTrainConfig(project=project_dir, method="conditional", train=train),
                    progress=progress, cancel=cancel)
    report = generate_into_project(GenerateConfig(project=project_dir, method="conditional", n=n, seed=seed,
                                                  device=device), progress=progress, cancel=cancel)
    return SyntheticReport(requested=n, accepted=len(report.accepted), rejected=report.rejected,
                           summary=report.summary(), steps=train.max_steps or 0)
