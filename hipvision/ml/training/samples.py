"""Which images a run trains and validates on, and which of them each epoch reads."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hipvision.ml.data import Sample, samples_from_coco, samples_from_project
from hipvision.ml.training.config import TrainConfig


def resolve_samples(project_or_samples, config: TrainConfig) -> tuple[list[Sample], str, object | None]:
    """(samples, trained_on guess, project or None). A folder with a project (in the folder, or in
    the user data dir for a read-only folder) is read as that project, else as annotations.json."""
    splits = tuple(dict.fromkeys(config.train_splits + config.val_splits))
    if hasattr(project_or_samples, "labelled"):
        return samples_from_project(project_or_samples, splits), "project", project_or_samples
    if isinstance(project_or_samples, (str, os.PathLike)):
        from hipvision.core.store import find_project

        p = Path(project_or_samples)
        project = find_project(p)
        if project is not None:
            return samples_from_project(project, splits), "project", project
        return samples_from_coco(p), guess_trained_on(p), None
    samples = list(project_or_samples)
    if not all(isinstance(s, Sample) for s in samples):
        raise TypeError("train_keypoints needs a Project, a folder path, or a list of Sample")
    return samples, "samples", None


def guess_trained_on(folder: Path) -> str:
    ann = folder / "annotations.json" if folder.is_dir() else folder
    try:
        desc = str(json.loads(ann.read_text(encoding="utf-8")).get("info", {}).get("description", ""))
    except (OSError, ValueError, AttributeError):
        desc = ""
    return "phantoms" if "phantom" in desc.lower() else "folder"


def split_samples(samples: Sequence[Sample], config: TrainConfig) -> tuple[list[Sample], list[Sample]]:
    """(train, val); raises when there is nothing to train on."""
    train = [s for s in samples if s.split in config.train_splits]
    val = [s for s in samples if s.split in config.val_splits]
    if not train:
        raise ValueError(f"no labelled images in the training split(s) {', '.join(config.train_splits)}; "
                         "label (or verify) some images first")
    if config.max_val_images:
        val = val[: config.max_val_images]
    return train, val


def epoch_plan(synthetic: Sequence[bool], length: int, epoch: int, epochs: int, share: float | None,
               until: float) -> list[int] | None:
    """Which cached image each of an epoch's `length` samples reads, or None for the plain
    cycle over all images. Real and synthetic images each cycle on their own, so a share can
    be held whatever their counts; synthetic ones rotate across epochs so all get used.
    Epochs past `until` x `epochs` read real images only: a synthetic-heavy start, then a
    fine-tune on the real distribution, which the model is measured on."""
    flags = np.asarray(synthetic, dtype=bool)
    real, syn = np.flatnonzero(~flags), np.flatnonzero(flags)
    if not len(syn) or not len(real):
        return None
    use = epoch < math.ceil(until * epochs - 1e-9)
    if use and share is None:
        return None
    n_syn = int(round((share if use else 0.0) * length))
    start = (epoch * n_syn) % len(syn)
    plan = [int(real[i % len(real)]) for i in range(length - n_syn)]
    plan += [int(syn[(start + i) % len(syn)]) for i in range(n_syn)]
    return plan


def shard(length: int, seed: int, epoch: int, rank: int, world: int, n: int) -> list[int]:
    """This process's `n` sample indices of an epoch: one seeded permutation shared by every
    process, dealt out rank by rank, so the shards are disjoint and together cover the epoch."""
    perm = np.random.default_rng([seed, epoch, 7]).permutation(length)
    return perm[rank::world][:n].tolist()
