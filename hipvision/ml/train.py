"""`train_keypoints(config, project_or_samples, *, progress, cancel, metrics)`: train both stages.

One loop trains the whole-image network (stage 1) and the hip-crop network (stage 2) together:
every batch holds, per radiograph, one augmented whole-image input and its two hip crops
(jittered as stage 1 would misplace them). Validation runs the real two-stage pipeline on
the validation images and early stopping watches its NA MAE, the number users care about.

AdamW, linear warm-up then cosine decay, optional EMA of the weights, AMP on CUDA, device
chosen automatically. Under `accelerate launch` (WORLD_SIZE > 1) the same loop runs data
parallel through Hugging Face Accelerate; each process reads its share of every epoch.
Checkpoints: the training state is saved atomically every epoch (`<output>.state.pt`, used by
`resume`), the final model (best validation epoch) as safetensors + sidecar at the end.
A cancel is checked every batch and raises `Cancelled`; files on disk are always complete.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from hipvision.core.atomic import atomic_path
from hipvision.core.jobs import check_cancel
from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix
from hipvision.ml.checkpoint import CheckpointError, ModelBundle, load_checkpoint, save_checkpoint
from hipvision.ml.data import (
    AugmentConfig,
    CacheSpec,
    KeypointDataset,
    Sample,
    build_cache,
    data_summary,
    samples_from_coco,
    samples_from_project,
)
from hipvision.ml.device import pick_device, set_cpu_threads
from hipvision.ml.metrics import compare, summarise
from hipvision.ml.model import HEADS, KeypointNet, keypoint_loss, stage1_spec, stage2_spec
from hipvision.ml.pipeline import PipelineOptions, run_pipeline
from hipvision.ml.zoo import DEFAULT_BACKBONE, check_backbone_name

log = logging.getLogger("hipvision.ml")


@dataclass(frozen=True)
class TrainConfig:
    backbone: str = DEFAULT_BACKBONE
    stage2_backbone: str | None = None  # None: same as backbone
    head: str = "heatmap"  # heatmap (soft-argmax) | regression (the poster's MSE regression)
    input_size: int = 256  # stage-1 whole-image input (letterboxed square)
    crop_size: int = 160  # stage-2 hip crop input
    crop_factor: float = 6.0  # stage-2 crop side in head radii
    channels: int = 64  # heatmap head width
    epochs: int = 30
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.02
    ema: bool = False
    ema_decay: float = 0.998
    patience: int = 10  # epochs without a better validation NA MAE before stopping; 0: never stop early
    min_samples_per_epoch: int = 0  # small sets repeat (augmented) to at least this many samples an epoch
    crops_per_hip: int = 1  # stage-2 crops per hip per sample (differently jittered)
    # Synthetic images (Sample.source == "synthetic"), when the data has any (core.synthetic_mix).
    synthetic_share: float | None = DEFAULT_SHARE  # share of each epoch's samples (None: by their number)
    synthetic_until: float = DEFAULT_UNTIL  # share of the epochs that use them; the rest: real images only
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision (CUDA only)
    threads: int | None = None  # CPU threads (None: OMP_NUM_THREADS or cores - 1)
    num_workers: int = 0
    pretrained: bool = True  # ImageNet weights when reachable (random init offline, with a notice)
    init_from: str | None = None  # warm start: a .safetensors model (its architecture is used)
    resume: bool = False  # continue from <output>.state.pt if present
    output: str | None = None  # .safetensors path; default: the project's models folder or the cwd
    name: str | None = None  # model id (default: output file stem)
    train_splits: tuple[str, ...] = ("train",)
    val_splits: tuple[str, ...] = ("val",)
    trained_on: str | None = None  # "phantoms" | "project" | ... (default: guessed from the data)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    refine_iters: int = 2
    val_tta: bool = False  # flip TTA during validation (slower; final evaluation uses the Predictor's)
    max_val_images: int = 0  # 0: all
    save_half: bool = False  # float16 weights in the shipped file (halves its size)

    def __post_init__(self) -> None:
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


# ---------------------------------------------------------------------------- helpers

class TwoStage(torch.nn.Module):
    """Both networks in one module, so one optimizer / one DDP wrapper holds them."""

    def __init__(self, stage1: KeypointNet, stage2: KeypointNet):
        super().__init__()
        self.stage1 = stage1
        self.stage2 = stage2

    def forward(self, s1_img, s2_img):
        return self.stage1(s1_img), self.stage2(s2_img)


def resolve_samples(project_or_samples, config: TrainConfig) -> tuple[list[Sample], str, object | None]:
    """(samples, trained_on guess, project or None)."""
    if hasattr(project_or_samples, "labelled"):
        splits = tuple(dict.fromkeys(config.train_splits + config.val_splits))
        return samples_from_project(project_or_samples, splits), "project", project_or_samples
    if isinstance(project_or_samples, (str, os.PathLike)):
        p = Path(project_or_samples)
        if (p / ".hipvision" / "project.sqlite").is_file():
            from hipvision.core.store import Project

            project = Project.open(p, create=False)
            splits = tuple(dict.fromkeys(config.train_splits + config.val_splits))
            return samples_from_project(project, splits), "project", project
        samples = samples_from_coco(p)
        return samples, guess_trained_on(p), None
    samples = list(project_or_samples)
    if not all(isinstance(s, Sample) for s in samples):
        raise TypeError("train_keypoints needs a Project, a folder path, or a list of Sample")
    return samples, "samples", None


def guess_trained_on(folder: Path) -> str:
    import json

    ann = folder / "annotations.json" if folder.is_dir() else folder
    try:
        desc = str(json.loads(ann.read_text(encoding="utf-8")).get("info", {}).get("description", ""))
    except (OSError, ValueError, AttributeError):
        desc = ""
    return "phantoms" if "phantom" in desc.lower() else "folder"


def _lr_lambda(total: int, warmup: int, min_ratio: float):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    return f


# How models were trained before a TrainConfig field existed (for comparing old sidecars).
LEGACY_DEFAULTS = {"synthetic_share": None, "synthetic_until": 1.0}


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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _to_landmarks(hips: np.ndarray, mapping) -> HipLandmarks:
    sides = [SideLandmarks(float(h[0]), float(h[1]), max(float(h[2]), 1e-3), float(h[3]), float(h[4])) for h in hips]
    return mapping.from_image_order(sides[0], sides[1])


def validate(stage1: KeypointNet, stage2: KeypointNet | None, samples: Sequence[Sample], cache, options: PipelineOptions,
             device, *, batch: int = 8, cancel=None) -> dict:
    """NA/landmark metrics of the two-stage pipeline on cached images."""
    from hipvision.core.geometry import GeometryError

    rows = []
    for i in range(0, len(cache), batch):
        check_cancel(cancel)
        part = cache[i:i + batch]
        raw = run_pipeline(stage1, stage2, [c.source() for c in part], options, device)
        for s, r in zip(samples[i:i + batch], raw):
            try:
                rows += compare(s.label, _to_landmarks(r.hips, s.mapping), s.landmarks, split=s.split, spacing=s.spacing)
            except GeometryError:
                continue  # degenerate prediction (coincident points): counted as missing
    return summarise(rows)


class _Ema:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.steps = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for e, p in zip(self.model.state_dict().values(), model.state_dict().values()):
            if e.is_floating_point():
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)


def _state_path(output: Path) -> Path:
    return output.with_name(output.stem + ".state.pt")


def _default_output(project) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = project.models_dir if project is not None else Path.cwd()
    return Path(folder) / f"keypoints-{stamp}.safetensors"


def _accelerator(config: TrainConfig):
    """An Accelerator when launched by `accelerate launch` with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    mp = "no"
    if config.amp and torch.cuda.is_available():
        mp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Accelerator(mixed_precision=mp)


# ---------------------------------------------------------------------------- the loop

def train_keypoints(config: TrainConfig, project_or_samples, *, progress=None, cancel=None, metrics=None) -> TrainResult:
    t_start = time.monotonic()
    samples, guessed_on, project = resolve_samples(project_or_samples, config)
    train = [s for s in samples if s.split in config.train_splits]
    val = [s for s in samples if s.split in config.val_splits]
    if not train:
        raise ValueError(f"no labelled images in the training split(s) {', '.join(config.train_splits)}; "
                         "label (or verify) some images first")
    if config.max_val_images:
        val = val[: config.max_val_images]
    output = Path(config.output) if config.output else _default_output(project)
    state_file = _state_path(output)

    accel = _accelerator(config)
    device = accel.device if accel is not None else pick_device(config.device)
    rank, world = (accel.process_index, accel.num_processes) if accel is not None else (0, 1)
    is_main = rank == 0
    if device.type == "cpu":
        set_cpu_threads(config.threads)
    _seed_everything(config.seed)

    def report(done, total, msg):
        if progress is not None and is_main:
            progress(done, total, msg)

    # ---- networks (warm start adopts the checkpoint's architecture)
    options = PipelineOptions(crop_factor=config.crop_factor, refine_iters=config.refine_iters)
    pretrained_loaded = False
    if config.init_from:
        warm = load_checkpoint(config.init_from)
        if warm.stage2 is None:
            raise CheckpointError(config.init_from, "has no stage-2 network to continue training")
        stage1, stage2 = warm.stage1.train(), warm.stage2.train()
        options = PipelineOptions(crop_factor=warm.options.crop_factor, refine_iters=config.refine_iters)
    else:
        common = dict(head=config.head, channels=config.channels)
        want_pre = config.pretrained and not (config.resume and state_file.is_file())
        stage1 = KeypointNet(stage1_spec(backbone=config.backbone, input_size=config.input_size, **common),
                             pretrained=want_pre)
        stage2 = KeypointNet(stage2_spec(backbone=config.stage2_backbone or config.backbone,
                                         input_size=config.crop_size, **common), pretrained=want_pre)
        pretrained_loaded = stage1.pretrained_loaded and stage2.pretrained_loaded
        if config.pretrained and not pretrained_loaded and want_pre:
            report(0, 1, "no ImageNet weights available: training from random initialisation")
    s1_size, crop_size = stage1.spec.input_size, stage2.spec.input_size

    # ---- data (decoded once)
    spec = CacheSpec(stage1_size=s1_size, crop_size=crop_size, crop_factor=options.crop_factor)
    train_cache = build_cache(train, spec, progress=report, cancel=cancel, message="reading training images")
    val_cache = build_cache(val, spec, progress=report, cancel=cancel, message="reading validation images")
    # Without a validation split, watch (unaugmented) training images so the curve still means something.
    mon_samples, mon_cache, mon_name = (val, val_cache, "val") if val else (train[:32], train_cache[:32], "train")
    dataset = KeypointDataset(train_cache, stage1_size=s1_size, crop_size=crop_size, crop_factor=options.crop_factor,
                              augment=config.augment, seed=config.seed, length=config.min_samples_per_epoch,
                              crops_per_hip=config.crops_per_hip)
    bs = min(config.batch_size, len(dataset))
    steps_per_epoch = max(1, len(dataset) // (bs * world))
    total_steps = steps_per_epoch * config.epochs

    model = TwoStage(stage1, stage2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(total_steps, warmup, config.min_lr_ratio))
    ema = _Ema(model, config.ema_decay) if config.ema else None
    use_amp = config.amp and device.type == "cuda" and accel is None
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    start_epoch, best, best_epoch, best_state, history, bad_epochs = 0, math.inf, -1, None, [], 0
    if config.resume and state_file.is_file():
        st = torch.load(state_file, map_location="cpu", weights_only=True)
        if st.get("config_backbones") != [stage1.spec.backbone, stage2.spec.backbone]:
            raise CheckpointError(state_file, "training state belongs to another architecture; delete it or change --backbone")
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        if ema is not None and st.get("ema") is not None:
            ema.model.load_state_dict(st["ema"])
            ema.steps = int(st.get("ema_steps", 0))
        start_epoch, best, best_epoch = int(st["epoch"]) + 1, float(st["best"]), int(st["best_epoch"])
        best_state, history, bad_epochs = st.get("best_state"), list(st.get("history", [])), int(st.get("bad_epochs", 0))
        report(0, 1, f"resuming after epoch {start_epoch}")

    train_model = model
    if accel is not None:
        train_model, optimizer, scheduler = accel.prepare(model, optimizer, scheduler)

    stopped_early = False
    step = start_epoch * steps_per_epoch
    epoch = start_epoch - 1
    is_synthetic = [s.source == "synthetic" for s in train]
    for epoch in range(start_epoch, config.epochs):
        dataset.set_epoch(epoch)
        dataset.set_plan(epoch_plan(is_synthetic, len(dataset), epoch, config.epochs, config.synthetic_share,
                                    config.synthetic_until))
        perm = np.random.default_rng([config.seed, epoch, 7]).permutation(len(dataset))
        mine = perm[rank::world][: steps_per_epoch * bs]
        loader = torch.utils.data.DataLoader(dataset, batch_size=bs, sampler=mine.tolist(), num_workers=config.num_workers,
                                             drop_last=True)
        train_model.train()
        sums: dict[str, float] = {}
        n = 0
        for b in loader:
            check_cancel(cancel)
            s1 = b["s1_img"].to(device, non_blocking=True)
            s2 = b["s2_img"].flatten(0, 1).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                o1, o2 = train_model(s1, s2)
            l1, p1 = keypoint_loss(o1, stage1.spec, b["s1_pts"].to(device), b["s1_rad"].to(device))
            l2, p2 = keypoint_loss(o2, stage2.spec, b["s2_pts"].flatten(0, 1).to(device),
                                   b["s2_rad"].flatten(0, 1).to(device))
            loss = l1 + l2
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged (loss {float(loss)}) at epoch {epoch + 1}; try a lower lr")
            optimizer.zero_grad(set_to_none=True)
            if accel is not None:
                accel.backward(loss)
            else:
                scaler.scale(loss).backward()
            if accel is None:
                scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            if accel is None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update(model)
            step += 1
            n += 1
            for k, v in {"loss": float(loss.detach()), "loss_stage1": float(l1.detach()), "loss_stage2": float(l2.detach())}.items():
                sums[k] = sums.get(k, 0.0) + v
            report(step, total_steps, f"epoch {epoch + 1}/{config.epochs} loss {sums['loss'] / n:.4f}")

        # ---- validation (every process computes the same numbers, so they agree on stopping)
        eval_model = ema.model if ema is not None else model
        eval_model.eval()
        vm = validate(eval_model.stage1, eval_model.stage2, mon_samples, mon_cache,
                      PipelineOptions(options.crop_factor, options.refine_iters, tta=config.val_tta), device,
                      cancel=cancel)
        record = {"epoch": epoch + 1, **{k: v / max(n, 1) for k, v in sums.items()},
                  "lr": optimizer.param_groups[0]["lr"]}
        for k, v in vm.items():
            record[f"{mon_name}_{k}"] = v
        history.append(record)
        score = vm.get("na_mae", math.inf)
        if metrics is not None and is_main:
            metrics(epoch + 1, {k: v for k, v in record.items() if k != "epoch"})
        if score < best or best_state is None:
            best, best_epoch, bad_epochs = score, epoch + 1, 0
            best_state = {k: v.detach().to("cpu").clone() for k, v in eval_model.state_dict().items()}
        else:
            bad_epochs += 1
        log.info("epoch %d: %s", epoch + 1, record)
        if is_main:
            with atomic_path(state_file) as tmp:
                torch.save({
                    "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "ema": ema.model.state_dict() if ema is not None else None,
                    "ema_steps": ema.steps if ema is not None else 0, "best": best, "best_epoch": best_epoch,
                    "best_state": best_state, "history": history, "bad_epochs": bad_epochs,
                    "config_backbones": [stage1.spec.backbone, stage2.spec.backbone],
                    "specs": [stage1.spec.to_dict(), stage2.spec.to_dict()],
                    "pipeline": [options.crop_factor, options.refine_iters],
                    "meta": {"trained_on": config.trained_on or guessed_on, "data_summary": data_summary(train + val),
                             "train_config": config.to_dict(), "pretrained": bool(pretrained_loaded)},
                }, tmp)
        if val and config.patience and bad_epochs >= config.patience:
            stopped_early = True
            report(total_steps, total_steps, f"stopped early: no better validation NA error for {config.patience} epochs")
            break

    # ---- the kept model: the best validation epoch
    check_cancel(cancel)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    kept = next((h for h in history if h["epoch"] == best_epoch), history[-1] if history else {})
    final_metrics = {k: v for k, v in kept.items() if k.startswith(("val_", "train_"))}
    final_metrics.setdefault("val_na_mae", None)
    final_metrics["best_epoch"] = best_epoch
    summary = data_summary(train + val)
    trained_on = config.trained_on or guessed_on
    model_id = config.name or output.stem
    bundle = ModelBundle(stage1=model.stage1, stage2=model.stage2, options=options, meta={
        "model_id": model_id, "metrics": final_metrics, "data_summary": summary, "trained_on": trained_on,
        "train_config": config.to_dict(), "pretrained": bool(pretrained_loaded), "history": history,
        "warm_start": str(config.init_from) if config.init_from else None,
    })
    if is_main:
        save_checkpoint(output, bundle, half=config.save_half)
        state_file.unlink(missing_ok=True)
    if accel is not None:
        accel.wait_for_everyone()
    return TrainResult(checkpoint=output, model_id=model_id, metrics=final_metrics, history=history,
                       best_epoch=best_epoch, epochs_run=(epoch + 1 - start_epoch) if history else 0,
                       stopped_early=stopped_early, pretrained=bool(pretrained_loaded), device=str(device),
                       data_summary=summary, seconds=time.monotonic() - t_start, main_process=is_main)


def export_state(state_file: str | Path, output: str | Path, *, half: bool = False, name: str | None = None) -> Path:
    """Save the best epoch so far of an unfinished run (its `.state.pt`) as a model file."""
    from hipvision.ml.model import NetSpec

    state_file = Path(state_file)
    try:
        st = torch.load(state_file, map_location="cpu", weights_only=True)
        specs, (crop_factor, refine_iters) = st["specs"], st["pipeline"]
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(state_file, f"not a readable training state ({exc})") from None
    model = TwoStage(KeypointNet(NetSpec.from_dict(specs[0])), KeypointNet(NetSpec.from_dict(specs[1])))
    model.load_state_dict(st["best_state"] if st.get("best_state") is not None else st["model"])
    history = list(st.get("history", []))
    best_epoch = int(st.get("best_epoch", -1))
    kept = next((h for h in history if h["epoch"] == best_epoch), history[-1] if history else {})
    metrics = {k: v for k, v in kept.items() if k.startswith(("val_", "train_"))}
    metrics["best_epoch"] = best_epoch
    meta = dict(st.get("meta", {}))
    meta.update({"model_id": name or Path(output).stem, "metrics": metrics, "history": history,
                 "exported_from_state": f"{state_file.name} after epoch {int(st['epoch']) + 1}"})
    bundle = ModelBundle(stage1=model.stage1.eval(), stage2=model.stage2.eval(),
                         options=PipelineOptions(crop_factor=float(crop_factor), refine_iters=int(refine_iters)), meta=meta)
    return save_checkpoint(output, bundle, half=half)
