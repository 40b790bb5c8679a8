"""The denoiser training loop shared by `ddpm` and `conditional`.

diffusers-example knobs (resolution, batch size, epochs/steps, lr with warm-up, EMA, mixed
precision on CUDA, checkpoint every N steps and resume, seed) on a loop small enough to read.
Determinism: the batch order of an epoch and the noise of a step are functions of
(seed, epoch) and (seed, step), so a resumed run continues exactly where it stopped.

On disk (`out_dir`):
    generator.json          what was trained and which weights folder is current (written last,
                            atomically: a crash leaves the previous generator usable)
    weights-<step>/         UNet2DModel.save_pretrained (safetensors), EMA weights if EMA is on
    checkpoints/step-<n>/   resume state: raw UNet, optimizer, lr schedule, EMA
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hipvision.core.atomic import write_text_atomic
from hipvision.core.jobs import Cancelled, check_cancel
from hipvision.ml.diffusion.unet_layouts import SIZES, check_resolution, unet_config

META_FILE = "generator.json"
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
PRECISIONS = ("auto", "no", "fp16", "bf16")


def _positive(name: str, v, *, allow_zero: bool = False, integer: bool = True) -> None:
    kind = int if integer else (int, float)
    if isinstance(v, bool) or not isinstance(v, kind) or (v < 0 if allow_zero else v <= 0):
        raise ValueError(f"{name}: must be a {'non-negative' if allow_zero else 'positive'} "
                         f"{'integer' if integer else 'number'}, got {v!r}")


@dataclass(frozen=True)
class DenoiserTrainConfig:
    resolution: int = 64
    unet_size: str = "small"
    batch_size: int = 16
    epochs: int = 50
    max_steps: int | None = None  # overrides epochs when set
    learning_rate: float = 2e-4
    warmup_steps: int = 100
    lr_schedule: str = "cosine"  # any diffusers.optimization schedule name
    ema: bool = True
    ema_decay: float = 0.999
    mixed_precision: str = "auto"  # auto: bf16/fp16 on CUDA, fp32 elsewhere
    checkpoint_every: int = 500  # steps; 0 = only at the end (and on cancel)
    keep_checkpoints: int = 2
    resume: bool = True
    seed: int = 0
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    cond_drop: float = 0.1  # classifier-free guidance: share of samples trained without condition
    hflip: bool = False  # random horizontal flips (unconditional whole images only)
    device: str = "auto"

    def __post_init__(self) -> None:
        check_resolution(self.resolution)
        if self.unet_size not in SIZES:
            raise ValueError(f"unet_size: must be one of {SIZES}, got {self.unet_size!r}")
        _positive("batch_size", self.batch_size)
        _positive("epochs", self.epochs)
        if self.max_steps is not None:
            _positive("max_steps", self.max_steps)
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 1):
            raise ValueError(f"learning_rate: must be in (0, 1), got {self.learning_rate!r}")
        _positive("warmup_steps", self.warmup_steps, allow_zero=True)
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay: must be in [0, 1), got {self.ema_decay!r}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision: must be one of {PRECISIONS}, got {self.mixed_precision!r}")
        _positive("checkpoint_every", self.checkpoint_every, allow_zero=True)
        _positive("keep_checkpoints", self.keep_checkpoints)
        _positive("num_train_timesteps", self.num_train_timesteps)
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule: must be one of {BETA_SCHEDULES}, got {self.beta_schedule!r}")
        if not 0 <= self.cond_drop < 1:
            raise ValueError(f"cond_drop: must be in [0, 1), got {self.cond_drop!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed: must be an integer, got {self.seed!r}")


@dataclass(frozen=True)
class TrainedGenerator:
    path: Path  # the generator folder (holds generator.json)
    steps: int  # optimisation steps done in total (including resumed ones)
    resumed_from: int  # 0 when trained from scratch
    final_loss: float
    seconds: float


def autocast_dtype(device, precision: str):
    """Mixed-precision dtype for this device, or None for fp32 (CPU/MPS always fp32: slower
    or unsupported there)."""
    import torch

    if device.type != "cuda" or precision == "no":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def scheduler_config(cfg: DenoiserTrainConfig) -> dict:
    return {"num_train_timesteps": cfg.num_train_timesteps, "beta_schedule": cfg.beta_schedule,
            "prediction_type": "epsilon", "clip_sample": True}


def read_meta(path: Path) -> dict:
    f = Path(path) / META_FILE
    if not f.is_file():
        raise FileNotFoundError(f"{path}: no trained generator here (expected {META_FILE}; train the generator first)")
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{f}: unreadable generator description: {exc}") from None


def load_unet(path: Path, device=None):
    """(UNet2DModel in eval mode, meta dict) of a trained generator folder."""
    from diffusers import UNet2DModel

    meta = read_meta(path)
    weights = Path(path) / meta["weights"]
    if not weights.is_dir():
        raise FileNotFoundError(f"{weights}: generator weights missing (the folder was changed by hand?)")
    unet = UNet2DModel.from_pretrained(weights)
    if device is not None:
        unet.to(device)
    return unet.eval(), meta


def _latest_checkpoint(out_dir: Path) -> Path | None:
    ck = sorted((out_dir / "checkpoints").glob("step-*"))
    ck = [c for c in ck if (c / "state.json").is_file()]
    return ck[-1] if ck else None


def _save_dir_atomic(final: Path, write) -> None:
    """Write a folder under a temporary name and rename it into place (a new name every time,
    so the rename never has to replace a non-empty folder)."""
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


@dataclass
class DenoiserRun:
    """A denoiser being trained: the network, its optimisation, and where it is saved."""

    cfg: DenoiserTrainConfig
    out_dir: Path
    device: object
    unet_kwargs: dict
    unet: object
    noise_sched: object
    opt: object
    lr_sched: object
    ema: object | None
    amp: object | None  # autocast dtype, None for fp32
    scaler: object | None
    start: int  # steps done before this call (resume)


def build_denoiser(cfg: DenoiserTrainConfig, n_cond: int, out_dir: Path, total: int) -> DenoiserRun:
    """The UNet (fresh, or from the latest checkpoint when resuming), AdamW, diffusers' LR
    schedule and EMAModel."""
    import torch
    from diffusers import DDPMScheduler, UNet2DModel
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    from hipvision.ml.device import pick_device

    device = pick_device(cfg.device)
    unet_kwargs = unet_config(cfg.resolution, 1 + n_cond, 1, cfg.unet_size)
    resume_dir = _latest_checkpoint(out_dir) if cfg.resume else None
    start = 0
    if resume_dir is not None:
        state = json.loads((resume_dir / "state.json").read_text())
        if state.get("unet_kwargs") != json.loads(json.dumps(unet_kwargs)):
            raise ValueError(f"{resume_dir}: checkpoint has another UNet layout (resolution/size/channels "
                             f"changed); train into a new folder or pass resume=False")
        unet = UNet2DModel.from_pretrained(resume_dir / "unet")
        start = int(state["step"])
    else:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
        unet = UNet2DModel(**unet_kwargs)
    unet.to(device).train()
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.learning_rate, weight_decay=1e-4)
    lr_sched = get_scheduler(cfg.lr_schedule, opt, num_warmup_steps=cfg.warmup_steps, num_training_steps=total)
    ema = EMAModel(unet.parameters(), decay=cfg.ema_decay, model_cls=UNet2DModel, model_config=unet.config) \
        if cfg.ema else None
    if resume_dir is not None:
        opt.load_state_dict(torch.load(resume_dir / "optimizer.pt", map_location=device, weights_only=True))
        lr_sched.load_state_dict(torch.load(resume_dir / "lr.pt", weights_only=True))
        if ema is not None and (resume_dir / "ema.pt").is_file():
            ema.load_state_dict(torch.load(resume_dir / "ema.pt", map_location="cpu", weights_only=True))
    if ema is not None:
        ema.to(device)
    amp = autocast_dtype(device, cfg.mixed_precision)
    scaler = torch.amp.GradScaler("cuda") if amp is torch.float16 else None
    return DenoiserRun(cfg, out_dir, device, unet_kwargs, unet, DDPMScheduler(**scheduler_config(cfg)), opt,
                       lr_sched, ema, amp, scaler, start)


def save_denoiser_checkpoint(run: DenoiserRun, step: int) -> None:
    """A resumable checkpoint (the newest `keep_checkpoints` are kept)."""
    import torch

    def write(d: Path) -> None:
        run.unet.save_pretrained(d / "unet")
        torch.save(run.opt.state_dict(), d / "optimizer.pt")
        torch.save(run.lr_sched.state_dict(), d / "lr.pt")
        if run.ema is not None:
            torch.save(run.ema.state_dict(), d / "ema.pt")
        (d / "state.json").write_text(json.dumps({"step": step, "unet_kwargs": run.unet_kwargs}))

    _save_dir_atomic(run.out_dir / "checkpoints" / f"step-{step:08d}", write)
    for old in sorted((run.out_dir / "checkpoints").glob("step-*"))[:-run.cfg.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)


def denoiser_step(run: DenoiserRun, x_all, c_all, step: int, steps_per_epoch: int) -> float:
    """One optimisation step; the batch, flips, noise and timesteps are seeded by the step, so a
    resumed run sees what an uninterrupted one would. Returns the loss."""
    import torch

    cfg, device = run.cfg, run.device
    epoch, b = divmod(step, steps_per_epoch)
    order = np.random.default_rng([cfg.seed, epoch]).permutation(len(x_all))
    idx = torch.from_numpy(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    x0 = x_all[idx]
    if cfg.hflip:
        flip = torch.rand(len(idx), generator=g) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, cfg.num_train_timesteps, (len(idx),), generator=g)
    x0, noise, t = x0.to(device), noise.to(device), t.to(device)
    inp = run.noise_sched.add_noise(x0, noise, t)
    if c_all is not None:
        c = c_all[idx]
        keep = (torch.rand(len(idx), generator=g) >= cfg.cond_drop).float()[:, None, None, None]
        inp = torch.cat([inp, (c * keep).to(device)], dim=1)
    with torch.autocast(device.type, dtype=run.amp, enabled=run.amp is not None):
        pred = run.unet(inp, t).sample
    loss = torch.nn.functional.mse_loss(pred.float(), noise)
    run.opt.zero_grad(set_to_none=True)
    if run.scaler is not None:
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.opt)
        torch.nn.utils.clip_grad_norm_(run.unet.parameters(), 1.0)
        run.scaler.step(run.opt)
        run.scaler.update()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.unet.parameters(), 1.0)
        run.opt.step()
    run.lr_sched.step()
    if run.ema is not None:
        run.ema.step(run.unet.parameters())
    return float(loss.detach())


def save_denoiser_weights(run: DenoiserRun, step: int, meta: dict, n_images: int, n_cond: int,
                          loss_ema: float) -> None:
    """The final weights (the EMA ones when kept) and generator.json; older weights go."""
    cfg, unet, ema, out_dir = run.cfg, run.unet, run.ema, run.out_dir
    weights = f"weights-{step:08d}"

    def write_weights(d: Path) -> None:
        if ema is not None:
            ema.store(unet.parameters())
            ema.copy_to(unet.parameters())
        unet.save_pretrained(d)
        if ema is not None:
            ema.restore(unet.parameters())

    _save_dir_atomic(out_dir / weights, write_weights)
    full_meta = dict(meta)
    full_meta.update({
        "weights": weights, "trained_steps": step, "resolution": cfg.resolution, "condition_channels": n_cond,
        "scheduler": scheduler_config(cfg), "train_config": asdict(cfg), "n_train_images": int(n_images),
        "final_loss": None if math.isnan(loss_ema) else loss_ema,
    })
    write_text_atomic(out_dir / META_FILE, json.dumps(full_meta, indent=2, sort_keys=True))
    for old in out_dir.glob("weights-*"):
        if old.name != weights:
            shutil.rmtree(old, ignore_errors=True)


def train_denoiser(cfg: DenoiserTrainConfig, images: np.ndarray, conds: np.ndarray | None, out_dir: Path,
                   meta: dict, *, progress=None, cancel=None) -> TrainedGenerator:
    """Train a UNet2DModel to predict the noise of `images` (N, 1, R, R) in [-1, 1], with
    `conds` (N, C, R, R) concatenated to the noisy input when given. `meta` is stored in
    generator.json beside what the loop adds (steps, weights folder, scheduler config)."""
    import torch

    t_start = time.perf_counter()
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[2:] != (cfg.resolution, cfg.resolution):
        raise ValueError(f"training images: expected (N, 1, {cfg.resolution}, {cfg.resolution}), got {images.shape}")
    if len(images) == 0:
        raise ValueError("no training images")
    n_cond = 0 if conds is None else conds.shape[1]
    if conds is not None and (len(conds) != len(images) or conds.shape[2:] != images.shape[2:]):
        raise ValueError(f"conditions {conds.shape} do not match images {images.shape}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    total = cfg.max_steps or cfg.epochs * steps_per_epoch
    run = build_denoiser(cfg, n_cond, out_dir, total)
    x_all = torch.from_numpy(images)
    c_all = None if conds is None else torch.from_numpy(np.asarray(conds, dtype=np.float32))

    loss_ema, step, start = float("nan"), run.start, run.start
    try:
        while step < total:
            check_cancel(cancel)
            lv = denoiser_step(run, x_all, c_all, step, steps_per_epoch)
            step += 1
            loss_ema = lv if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * lv
            if progress is not None:
                progress(step, total, f"epoch {(step - 1) // steps_per_epoch + 1}, loss {loss_ema:.4f}")
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total:
                save_denoiser_checkpoint(run, step)
    except Cancelled:
        if step > start:
            save_denoiser_checkpoint(run, step)  # so that `resume` continues from here
        raise

    save_denoiser_checkpoint(run, step)
    save_denoiser_weights(run, step, meta, len(images), n_cond, loss_ema)
    return TrainedGenerator(out_dir, step, start, loss_ema, time.perf_counter() - t_start)
