"""The named steps of a keypoint training run, each callable on its own (tests, notebooks):
build the networks, build the data, set up the optimisation, one epoch, validate-and-save,
and the final checkpoint. `loop.train_keypoints` strings them together.

All of a run's moving parts live on one `Run`, so a step's signature says which run it works
on rather than listing a dozen tensors.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from hipvision.core.jobs import check_cancel
from hipvision.ml.checkpoint import CheckpointError, ModelBundle, load_checkpoint, save_checkpoint
from hipvision.ml.data import CacheSpec, KeypointDataset, Sample, build_cache, data_summary
from hipvision.ml.model import KeypointNet, keypoint_loss, stage1_spec, stage2_spec
from hipvision.ml.pipeline import PipelineOptions
from hipvision.ml.training.config import TrainConfig, TrainResult
from hipvision.ml.training.freezing import apply_freeze, hold_frozen_statistics
from hipvision.ml.training.samples import epoch_plan, shard
from hipvision.ml.training.state import latest_state, load_state, output_of_state, save_state, state_path
from hipvision.ml.training.validation import validate

log = logging.getLogger("hipvision.ml")


class TwoStage(torch.nn.Module):
    """Both networks in one module, so one optimizer / one DDP wrapper holds them."""

    def __init__(self, stage1: KeypointNet, stage2: KeypointNet):
        super().__init__()
        self.stage1 = stage1
        self.stage2 = stage2

    def forward(self, s1_img, s2_img):
        return self.stage1(s1_img), self.stage2(s2_img)


@dataclass
class Run:
    """One training run: its config, where it runs, and everything the steps build."""

    config: TrainConfig
    train: list[Sample]
    val: list[Sample]
    output: Path
    device: torch.device
    accel: object | None = None  # accelerate.Accelerator under `accelerate launch`
    rank: int = 0
    world: int = 1
    progress: object | None = None
    cancel: object | None = None
    # set by the steps
    model: TwoStage | None = None
    options: PipelineOptions | None = None
    framed: KeypointNet | None = None  # the warm start's pelvis-framed stage 1, kept as it is
    pretrained_loaded: bool = False
    dataset: KeypointDataset | None = None
    monitor: tuple = ()  # (samples, cache, name) that validation watches
    batch_size: int = 1
    steps_per_epoch: int = 1
    optimizer: torch.optim.Optimizer | None = None
    scheduler: object | None = None  # timm CosineLRScheduler, stepped per update
    ema: object | None = None  # timm ModelEmaV3
    scaler: torch.amp.GradScaler | None = None
    use_amp: bool = False
    amp_dtype: torch.dtype = torch.float16
    train_model: torch.nn.Module | None = None  # the model, or its DDP wrapper
    # progress of the run (saved in the state file)
    start_epoch: int = 0
    step: int = 0
    best: float = math.inf
    best_epoch: int = -1
    best_state: dict | None = None
    history: list[dict] = field(default_factory=list)
    bad_epochs: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def state_file(self) -> Path:
        return state_path(self.output)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    def report(self, done: int, total: int, msg: str) -> None:
        if self.progress is not None and self.is_main:
            self.progress(done, total, msg)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


DEFAULT_PREFIX = "keypoints-"


def default_output(project, *, resume: bool = False) -> Path:
    """A new timestamped model file in the project's models folder (or ./). To resume, the
    newest interrupted run's there: its name is what a user who did not pass --out cannot know."""
    folder = Path(project.models_dir if project is not None else Path.cwd())
    if resume:
        state = latest_state(folder, DEFAULT_PREFIX)
        if state is not None:
            return output_of_state(state)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, n = folder / f"{DEFAULT_PREFIX}{stamp}.safetensors", 1
    while out.exists() or state_path(out).exists():  # two runs in one second must not share a state
        n += 1
        out = folder / f"{DEFAULT_PREFIX}{stamp}-{n}.safetensors"
    return out


def run_output(config: TrainConfig, project) -> Path:
    """The model file a run writes: --out, else default_output."""
    return Path(config.output) if config.output else default_output(project, resume=config.resume)


def accelerator(config: TrainConfig):
    """An Accelerator when launched by `accelerate launch` with several processes, else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    mp = "no"
    if config.amp and torch.cuda.is_available():
        mp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Accelerator(mixed_precision=mp)


def build_models(run: Run) -> None:
    """The two networks; a warm start adopts the checkpoint's architecture."""
    config = run.config
    run.options = PipelineOptions(crop_factor=config.crop_factor, refine_iters=config.refine_iters)
    if config.init_from:
        warm = load_checkpoint(config.init_from)
        if warm.stage2 is None:
            raise CheckpointError(config.init_from, "has no stage-2 network to continue training")
        stage1, stage2 = warm.stage1.train(), warm.stage2.train()
        # Not trained here (it reads pelvis-framed views only); the new model keeps it so its
        # zoomed pass still has the second reader (pipeline.pick_zoom).
        run.framed = warm.framed
        run.options = PipelineOptions(crop_factor=warm.options.crop_factor, refine_iters=config.refine_iters)
    else:
        common = dict(head=config.head, channels=config.channels)
        want_pre = config.pretrained and not (config.resume and run.state_file.is_file())
        stage1 = KeypointNet(stage1_spec(backbone=config.backbone, input_size=config.input_size, **common),
                             pretrained=want_pre)
        stage2 = KeypointNet(stage2_spec(backbone=config.stage2_backbone or config.backbone,
                                         input_size=config.crop_size, **common), pretrained=want_pre)
        run.pretrained_loaded = stage1.pretrained_loaded and stage2.pretrained_loaded
        if config.pretrained and not run.pretrained_loaded and want_pre:
            run.report(0, 1, "no ImageNet weights available: training from random initialisation")
    run.model = TwoStage(stage1, stage2)
    apply_freeze((stage1, stage2), config.freeze)


def build_data(run: Run) -> None:
    """Decode every image once into caches; the augmented training dataset reads from them."""
    config, model, options = run.config, run.model, run.options
    s1_size, crop_size = model.stage1.spec.input_size, model.stage2.spec.input_size
    spec = CacheSpec(stage1_size=s1_size, crop_size=crop_size, crop_factor=options.crop_factor)
    train_cache = build_cache(run.train, spec, progress=run.report, cancel=run.cancel,
                              message="reading training images")
    val_cache = build_cache(run.val, spec, progress=run.report, cancel=run.cancel, message="reading validation images")
    # Without a validation split, watch (unaugmented) training images so the curve still means something.
    run.monitor = (run.val, val_cache, "val") if run.val else (run.train[:32], train_cache[:32], "train")
    run.dataset = KeypointDataset(train_cache, stage1_size=s1_size, crop_size=crop_size,
                                  crop_factor=options.crop_factor, augment=config.augment, seed=config.seed,
                                  length=config.min_samples_per_epoch, crops_per_hip=config.crops_per_hip)
    run.batch_size = min(config.batch_size, len(run.dataset))
    run.steps_per_epoch = max(1, len(run.dataset) // (run.batch_size * run.world))


def build_optimisation(run: Run) -> None:
    """AdamW; linear warm-up then cosine decay to min_lr_ratio x lr (timm's scheduler, stepped
    per update); optional EMA of the weights (timm's ModelEmaV3, which also averages the
    BatchNorm statistics); AMP on a single CUDA device (accelerate handles it otherwise)."""
    from timm.scheduler import CosineLRScheduler
    from timm.utils import ModelEmaV3

    config, device = run.config, run.device
    run.model.to(device)
    trainable = [p for p in run.model.parameters() if p.requires_grad]
    run.optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    warmup = int(round(config.warmup_epochs * run.steps_per_epoch))
    run.scheduler = CosineLRScheduler(
        run.optimizer, t_initial=max(1, run.total_steps - warmup), lr_min=config.lr * config.min_lr_ratio,
        warmup_t=warmup, warmup_lr_init=config.lr / max(1, warmup), warmup_prefix=True, t_in_epochs=False)
    # Warm-up gamma 9, power 1: the decay after k updates is min(ema_decay, (k - 1) / (k + 8)), so
    # the average follows the fast-moving early weights instead of the random initialisation.
    run.ema = (ModelEmaV3(run.model, decay=config.ema_decay, use_warmup=True, warmup_gamma=9.0, warmup_power=1.0)
               if config.ema else None)
    run.use_amp = config.amp and device.type == "cuda" and run.accel is None
    run.amp_dtype = torch.bfloat16 if run.use_amp and torch.cuda.is_bf16_supported() else torch.float16
    run.scaler = torch.amp.GradScaler("cuda", enabled=run.use_amp and run.amp_dtype == torch.float16)


def restore(run: Run) -> None:
    """Continue from the state file when asked to resume and one is there."""
    if not run.config.resume:
        return
    if not run.state_file.is_file():
        run.report(0, 1, f"nothing to resume ({run.state_file} does not exist): starting at epoch 1")
        return
    model = run.model
    st = load_state(run.state_file, [model.stage1.spec.backbone, model.stage2.spec.backbone])
    model.load_state_dict(st["model"])
    run.optimizer.load_state_dict(st["optimizer"])
    run.scheduler.load_state_dict(st["scheduler"])
    if run.ema is not None and st.get("ema") is not None:
        run.ema.module.load_state_dict(st["ema"])
    run.start_epoch, run.best, run.best_epoch = int(st["epoch"]) + 1, float(st["best"]), int(st["best_epoch"])
    run.best_state, run.history, run.bad_epochs = st.get("best_state"), list(st.get("history", [])), \
        int(st.get("bad_epochs", 0))
    run.step = run.start_epoch * run.steps_per_epoch
    run.report(0, 1, f"resuming {run.state_file}: continuing at epoch {run.start_epoch + 1}")


def prepare_distributed(run: Run) -> None:
    """Wrap the model and optimizer for data parallelism under `accelerate launch`. The scheduler
    stays ours: it is stepped by update count, which is already per process."""
    run.train_model = run.model
    if run.accel is not None:
        run.train_model, run.optimizer = run.accel.prepare(run.model, run.optimizer)


def epoch_indices(run: Run, epoch: int) -> list[int]:
    """This process's sample indices for `epoch` (and the dataset set up for that epoch)."""
    config, dataset = run.config, run.dataset
    dataset.set_epoch(epoch)
    # generated images and phantoms mixed into a few-shot run share the "not real" part of the epoch
    is_synthetic = [s.source != "real" for s in run.train]
    dataset.set_plan(epoch_plan(is_synthetic, len(dataset), epoch, config.epochs, config.synthetic_share,
                                config.synthetic_until))
    return shard(len(dataset), config.seed, epoch, run.rank, run.world, run.steps_per_epoch * run.batch_size)


def train_one_epoch(run: Run, epoch: int) -> dict[str, float]:
    """One pass over this process's shard; the mean losses."""
    config = run.config
    mine = epoch_indices(run, epoch)
    log_shard(run, epoch, mine)
    loader = torch.utils.data.DataLoader(run.dataset, batch_size=run.batch_size, sampler=mine,
                                         num_workers=config.num_workers, drop_last=True)
    run.train_model.train()
    hold_frozen_statistics((run.model.stage1, run.model.stage2), config.freeze)
    sums: dict[str, float] = {}
    n = 0
    for b in loader:
        check_cancel(run.cancel)
        losses = _train_step(run, b, epoch)
        n += 1
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v
        run.report(run.step, run.total_steps, f"epoch {epoch + 1}/{config.epochs} loss {sums['loss'] / n:.4f}")
    return {k: v / max(n, 1) for k, v in sums.items()}


def _train_step(run: Run, b: dict, epoch: int) -> dict[str, float]:
    device, model, optimizer = run.device, run.model, run.optimizer
    s1 = b["s1_img"].to(device, non_blocking=True)
    s2 = b["s2_img"].flatten(0, 1).to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=run.amp_dtype, enabled=run.use_amp):
        o1, o2 = run.train_model(s1, s2)
    l1, _ = keypoint_loss(o1, model.stage1.spec, b["s1_pts"].to(device), b["s1_rad"].to(device))
    l2, _ = keypoint_loss(o2, model.stage2.spec, b["s2_pts"].flatten(0, 1).to(device),
                          b["s2_rad"].flatten(0, 1).to(device))
    loss = l1 + l2
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training diverged (loss {float(loss)}) at epoch {epoch + 1}; try a lower lr")
    optimizer.zero_grad(set_to_none=True)
    if run.accel is not None:
        run.accel.backward(loss)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
    else:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        run.scaler.step(optimizer)
        run.scaler.update()
    run.step += 1
    run.scheduler.step_update(run.step)
    if run.ema is not None:
        run.ema.update(model, step=run.step)
    return {"loss": float(loss.detach()), "loss_stage1": float(l1.detach()), "loss_stage2": float(l2.detach())}


def log_shard(run: Run, epoch: int, indices: list[int]) -> None:
    """Under `accelerate launch`, HIPVISION_SHARD_LOG=<folder> records each rank's sample
    indices per epoch (shard-<rank>.jsonl), so a test can check the shards are disjoint."""
    folder = os.environ.get("HIPVISION_SHARD_LOG")
    if not folder:
        return
    import json

    with open(Path(folder) / f"shard-{run.rank}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"rank": run.rank, "world": run.world, "epoch": epoch, "indices": indices}) + "\n")


def validate_and_save(run: Run, epoch: int, losses: dict[str, float], guessed_on: str, metrics=None) -> bool:
    """Validate the epoch's model, keep it if it is the best so far, write the state file (main
    process); True when early stopping says to stop. Every process computes the same numbers,
    so they agree on stopping."""
    config, options = run.config, run.options
    eval_model = run.ema.module if run.ema is not None else run.model
    if config.keep == "last":
        return _keep_last(run, epoch, losses, guessed_on, eval_model, metrics)
    eval_model.eval()
    samples, cache, name = run.monitor
    vm = validate(eval_model.stage1, eval_model.stage2, samples, cache,
                  PipelineOptions(options.crop_factor, options.refine_iters, tta=config.val_tta), run.device,
                  cancel=run.cancel)
    record = {"epoch": epoch + 1, **losses, "lr": run.optimizer.param_groups[0]["lr"]}
    for k, v in vm.items():
        record[f"{name}_{k}"] = v
    run.history.append(record)
    score = vm.get("na_mae", math.inf)
    if metrics is not None and run.is_main:
        metrics(epoch + 1, {k: v for k, v in record.items() if k != "epoch"})
    if score < run.best or run.best_state is None:
        run.best, run.best_epoch, run.bad_epochs = score, epoch + 1, 0
        run.best_state = {k: v.detach().to("cpu").clone() for k, v in eval_model.state_dict().items()}
    else:
        run.bad_epochs += 1
    log.info("epoch %d: %s", epoch + 1, record)
    if run.is_main:
        save_state(run.state_file, _state(run, epoch, guessed_on))
    if run.val and config.patience and run.bad_epochs >= config.patience:
        run.report(run.total_steps, run.total_steps,
                   f"stopped early: no better validation NA error for {config.patience} epochs")
        return True
    return False


def _keep_last(run: Run, epoch: int, losses: dict[str, float], guessed_on: str, eval_model, metrics) -> bool:
    """keep="last": no per-epoch validation; the weights after the last epoch are the model."""
    record = {"epoch": epoch + 1, **losses, "lr": run.optimizer.param_groups[0]["lr"]}
    run.history.append(record)
    if metrics is not None and run.is_main:
        metrics(epoch + 1, {k: v for k, v in record.items() if k != "epoch"})
    run.best_epoch = epoch + 1
    if epoch + 1 == run.config.epochs:
        run.best_state = {k: v.detach().to("cpu").clone() for k, v in eval_model.state_dict().items()}
    if run.is_main:
        save_state(run.state_file, _state(run, epoch, guessed_on))
    return False


def _state(run: Run, epoch: int, guessed_on: str) -> dict:
    model, config = run.model, run.config
    return {
        "epoch": epoch, "model": model.state_dict(), "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(), "ema": run.ema.module.state_dict() if run.ema is not None else None,
        "best": run.best, "best_epoch": run.best_epoch, "best_state": run.best_state, "history": run.history,
        "bad_epochs": run.bad_epochs, "config_backbones": [model.stage1.spec.backbone, model.stage2.spec.backbone],
        "specs": [model.stage1.spec.to_dict(), model.stage2.spec.to_dict()],
        "pipeline": [run.options.crop_factor, run.options.refine_iters],
        "meta": {"trained_on": config.trained_on or guessed_on, "data_summary": data_summary(run.train + run.val),
                 "train_config": config.to_dict(), "pretrained": bool(run.pretrained_loaded)},
    }


def finish(run: Run, guessed_on: str, *, t_start: float, epochs_run: int, stopped_early: bool) -> TrainResult:
    """Load the best validation epoch's weights and save them as the model (main process only)."""
    config, model = run.config, run.model
    check_cancel(run.cancel)
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    model.eval()
    history = run.history
    kept = next((h for h in history if h["epoch"] == run.best_epoch), history[-1] if history else {})
    final_metrics = {k: v for k, v in kept.items() if k.startswith(("val_", "train_"))}
    final_metrics.setdefault("val_na_mae", None)
    final_metrics["best_epoch"] = run.best_epoch
    summary = data_summary(run.train + run.val)
    model_id = config.name or run.output.stem
    bundle = ModelBundle(stage1=model.stage1, stage2=model.stage2, options=run.options, framed=run.framed, meta={
        "model_id": model_id, "metrics": final_metrics, "data_summary": summary,
        "trained_on": config.trained_on or guessed_on, "train_config": config.to_dict(),
        "pretrained": bool(run.pretrained_loaded), "history": history,
        "warm_start": str(config.init_from) if config.init_from else None,
    })
    if run.is_main:
        save_checkpoint(run.output, bundle, half=config.save_half)
        run.state_file.unlink(missing_ok=True)
    if run.accel is not None:
        run.accel.wait_for_everyone()
    return TrainResult(checkpoint=run.output, model_id=model_id, metrics=final_metrics, history=history,
                       best_epoch=run.best_epoch, epochs_run=epochs_run, stopped_early=stopped_early,
                       pretrained=bool(run.pretrained_loaded), device=str(run.device), data_summary=summary,
                       seconds=time.monotonic() - t_start, main_process=run.is_main)
