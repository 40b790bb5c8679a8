"""DreamBooth with LoRA: teach a local Stable Diffusion checkpoint the project's radiographs.

The user points at a diffusers folder (model_index.json, unet/, vae/, text_encoder/,
tokenizer/, scheduler/); nothing is downloaded. Only LoRA adapters on the UNet's attention
projections train (peft through diffusers' `add_adapter`), so a run fits a laptop GPU and
the result is a few MB of safetensors. The instance prompt binds a rare token ("sks") to the
project's radiographs; prior preservation (optional) trains on class images of the plain
class prompt too, so the model keeps its general notion of a radiograph.

On disk (`out_dir`): generator.json (base model, prompts, resolution, steps), lora/ (the
diffusers LoRA weights file), checkpoints/ (resume state), class_images/ (prior preservation).
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
from hipvision.ml.diffusion.denoiser_training import (
    META_FILE,
    PRECISIONS,
    TrainedGenerator,
    autocast_dtype,
)

BASE_MODEL_ENV = "HIPVISION_SD_MODEL"
BASE_MODEL_SETTING = "dreambooth.base_model"
LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]


class BaseModelError(ValueError):
    """No usable Stable Diffusion base model: the message says where it looked and what it needs."""


def _app_setting() -> str | None:
    from hipvision.core.settings import SettingsError, load_settings

    try:
        sd = load_settings().sd_base_dir
    except SettingsError:
        return None  # a broken settings file is reported by the app, not here
    return None if sd is None else str(sd)


def resolve_base_model(base_model: str | os.PathLike | None, project=None) -> Path:
    """The base model folder: the argument, else the project setting, else the preferences'
    Stable Diffusion folder, else $HIPVISION_SD_MODEL."""
    where = "the given base model folder"
    if base_model is None and project is not None:
        base_model, where = project.get_setting(BASE_MODEL_SETTING), f"project setting {BASE_MODEL_SETTING!r}"
    if base_model is None:
        base_model, where = _app_setting(), "the preferences (Stable Diffusion folder)"
    if base_model is None and os.environ.get(BASE_MODEL_ENV):
        base_model, where = os.environ[BASE_MODEL_ENV], f"${BASE_MODEL_ENV}"
    if base_model is None:
        raise BaseModelError(
            "DreamBooth needs a Stable Diffusion base model and none is configured: pass --base-model DIR "
            f"(or set it in the preferences, or ${BASE_MODEL_ENV}), where DIR is a local diffusers folder with "
            "model_index.json, unet/, vae/, text_encoder/, tokenizer/ and scheduler/ (e.g. a saved "
            "stable-diffusion-v1-5); HipVision never downloads one")
    path = Path(base_model).expanduser()
    if not path.is_dir():
        raise BaseModelError(f"{path} (from {where}): not a folder; expected a diffusers Stable Diffusion "
                             "folder with model_index.json")
    if not (path / "model_index.json").is_file():
        raise BaseModelError(f"{path} (from {where}): model_index.json missing; expected a diffusers Stable "
                             "Diffusion folder (save_pretrained layout), not a single .ckpt/.safetensors file")
    missing = [s for s in ("unet", "vae", "text_encoder", "tokenizer", "scheduler") if not (path / s).is_dir()]
    if missing:
        raise BaseModelError(f"{path} (from {where}): diffusers folder lacks {', '.join(m + '/' for m in missing)}")
    return path.resolve()


@dataclass(frozen=True)
class DreamBoothConfig:
    resolution: int = 512  # training/sampling resolution of the SD model (multiple of 8)
    instance_prompt: str = "a sks canine hip radiograph"
    class_prompt: str = "a canine hip radiograph"
    prior_preservation: bool = False
    prior_loss_weight: float = 1.0
    num_class_images: int = 50
    rank: int = 4
    learning_rate: float = 1e-4
    batch_size: int = 1
    max_steps: int = 400
    warmup_steps: int = 0
    mixed_precision: str = "auto"
    checkpoint_every: int = 100  # steps; 0 = only at the end (and on cancel)
    resume: bool = True
    seed: int = 0
    class_steps: int = 25  # denoising steps for each generated class image
    device: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.resolution, int) or self.resolution < 16 or self.resolution % 8:
            raise ValueError(f"resolution: must be a multiple of 8 and >= 16, got {self.resolution!r}")
        for name in ("rank", "batch_size", "max_steps", "num_class_images", "class_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: must be a positive integer, got {v!r}")
        for name in ("warmup_steps", "checkpoint_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {v!r}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate: must be in (0, 1), got {self.learning_rate!r}")
        if not self.instance_prompt.strip():
            raise ValueError("instance_prompt: must not be empty")
        if self.prior_preservation and not self.class_prompt.strip():
            raise ValueError("class_prompt: must not be empty with prior preservation")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision: must be one of {PRECISIONS}, got {self.mixed_precision!r}")


def _load_components(base: Path, device):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    _quiet()
    tok = CLIPTokenizer.from_pretrained(base, subfolder="tokenizer")
    text = CLIPTextModel.from_pretrained(base, subfolder="text_encoder").to(device)
    vae = AutoencoderKL.from_pretrained(base, subfolder="vae").to(device)
    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet").to(device)
    sched = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
    for m in (text, vae, unet):
        m.requires_grad_(False)
    return tok, text, vae, unet, sched


def load_pipeline(base: Path, device, lora_dir: Path | None = None):
    from diffusers import StableDiffusionPipeline

    _quiet()
    pipe = StableDiffusionPipeline.from_pretrained(base, safety_checker=None, requires_safety_checker=False,
                                                   feature_extractor=None)
    if lora_dir is not None:
        pipe.load_lora_weights(lora_dir)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _quiet() -> None:
    """No per-component loading bars from diffusers/transformers inside our own progress."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def _rgb_batch(gray_unit: np.ndarray):
    """[0, 1] (N, H, W) -> float tensor (N, 3, H, W) in [-1, 1] (SD's VAE takes RGB)."""
    import torch

    x = torch.from_numpy(np.asarray(gray_unit, np.float32) * 2 - 1)[:, None]
    return x.repeat(1, 3, 1, 1)


def _class_images(cfg: DreamBoothConfig, base: Path, out_dir: Path, device, progress, cancel) -> np.ndarray:
    """Class images for prior preservation: generated once from the plain class prompt by the
    base model and kept (gray, [0, 1]) in out_dir/class_images."""
    import torch
    from PIL import Image

    folder = out_dir / "class_images"
    folder.mkdir(parents=True, exist_ok=True)
    have = sorted(folder.glob("class-*.png"))
    if len(have) < cfg.num_class_images:
        pipe = load_pipeline(base, device)
        for i in range(len(have), cfg.num_class_images):
            check_cancel(cancel)
            img = pipe(cfg.class_prompt, num_inference_steps=cfg.class_steps, height=cfg.resolution,
                       width=cfg.resolution, generator=torch.Generator().manual_seed(cfg.seed + 10_000 + i),
                       output_type="pil").images[0].convert("L")
            tmp = folder / f".class-{i:05d}.png.tmp"
            img.save(tmp, format="PNG")
            os.replace(tmp, folder / f"class-{i:05d}.png")
            if progress is not None:
                progress(i + 1, cfg.num_class_images, "generating class images for prior preservation")
        del pipe
    files = sorted(folder.glob("class-*.png"))[:cfg.num_class_images]
    return np.stack([np.asarray(Image.open(f).convert("L").resize((cfg.resolution,) * 2), np.float32) / 255.0
                     for f in files])


@dataclass
class LoraRun:
    """A LoRA DreamBooth run: the base pipeline's parts, the adapter's optimisation, its folder."""

    cfg: DreamBoothConfig
    base: Path
    out_dir: Path
    device: object
    tok: object
    text: object
    vae: object
    unet: object
    noise_sched: object
    params: list
    opt: object
    lr_sched: object
    start: int  # steps done before this call (resume)

    @property
    def ck_dir(self) -> Path:
        return self.out_dir / "checkpoints"


def build_lora(cfg: DreamBoothConfig, base: Path, out_dir: Path, device) -> LoraRun:
    """The base model's parts with a LoRA adapter on the UNet, AdamW and diffusers' schedule;
    continued from the checkpoint when resuming."""
    import torch
    from diffusers.optimization import get_scheduler
    from peft import LoraConfig, set_peft_model_state_dict
    from safetensors.torch import load_file

    tok, text, vae, unet, noise_sched = _load_components(base, device)
    unet.add_adapter(LoraConfig(r=cfg.rank, lora_alpha=cfg.rank, init_lora_weights="gaussian",
                                target_modules=LORA_TARGETS))
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=1e-2)
    lr_sched = get_scheduler("constant_with_warmup", opt, num_warmup_steps=cfg.warmup_steps,
                             num_training_steps=cfg.max_steps)
    run = LoraRun(cfg, base, out_dir, device, tok, text, vae, unet, noise_sched, params, opt, lr_sched, 0)
    ck_dir = run.ck_dir
    if cfg.resume and (ck_dir / "state.json").is_file():
        state = json.loads((ck_dir / "state.json").read_text())
        if state.get("base_model") != str(base) or state.get("rank") != cfg.rank:
            raise ValueError(f"{ck_dir}: checkpoint is for another base model or rank; pass resume=False")
        set_peft_model_state_dict(unet, load_file(ck_dir / "lora_peft.safetensors"))
        opt.load_state_dict(torch.load(ck_dir / "optimizer.pt", map_location=device, weights_only=True))
        lr_sched.load_state_dict(torch.load(ck_dir / "lr.pt", weights_only=True))
        run.start = int(state["step"])
    return run


def save_lora_checkpoint(run: LoraRun, step: int) -> None:
    """The resumable state (adapter, optimizer, schedule, step), replaced whole."""
    import torch
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    tmp = run.out_dir / ".checkpoints.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({k: v.contiguous() for k, v in get_peft_model_state_dict(run.unet).items()},
              tmp / "lora_peft.safetensors")
    torch.save(run.opt.state_dict(), tmp / "optimizer.pt")
    torch.save(run.lr_sched.state_dict(), tmp / "lr.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "base_model": str(run.base), "rank": run.cfg.rank}))
    shutil.rmtree(run.ck_dir, ignore_errors=True)
    os.replace(tmp, run.ck_dir)


def lora_step(run: LoraRun, x_inst, x_cls, step: int) -> float:
    """One optimisation step, seeded by the step (a resumed run sees what an uninterrupted one
    would); with class images, the prior-preservation loss is added. Returns the loss."""
    import torch

    cfg, device, noise_sched = run.cfg, run.device, run.noise_sched
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    idx = torch.randint(0, len(x_inst), (cfg.batch_size,), generator=g)
    x = x_inst[idx]
    prompts = [cfg.instance_prompt]
    if x_cls is not None:
        x = torch.cat([x, x_cls[torch.randint(0, len(x_cls), (cfg.batch_size,), generator=g)]])
        prompts.append(cfg.class_prompt)
    with torch.no_grad():
        lat = run.vae.encode(x.to(device)).latent_dist.sample(generator=g) * run.vae.config.scaling_factor
    noise = torch.randn(lat.shape, generator=g).to(device)
    t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(lat),), generator=g).to(device)
    noisy = noise_sched.add_noise(lat, noise, t)
    ehs = torch.cat([_embed(run, p, cfg.batch_size) for p in prompts])
    amp = autocast_dtype(device, cfg.mixed_precision)
    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
        pred = run.unet(noisy, t, ehs).sample.float()
    epsilon = noise_sched.config.prediction_type == "epsilon"
    target = noise if epsilon else noise_sched.get_velocity(lat, noise, t)
    mse = torch.nn.functional.mse_loss
    if x_cls is not None:
        p_i, p_c = pred.chunk(2)
        t_i, t_c = target.chunk(2)
        loss = mse(p_i, t_i) + cfg.prior_loss_weight * mse(p_c, t_c)
    else:
        loss = mse(pred, target)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.params, 1.0)
    run.opt.step()
    run.lr_sched.step()
    return float(loss.detach())


def _embed(run: LoraRun, prompt: str, n: int):
    import torch

    ids = run.tok([prompt], padding="max_length", max_length=run.tok.model_max_length, truncation=True,
                  return_tensors="pt").input_ids.to(run.device)
    with torch.no_grad():
        return run.text(ids)[0].expand(n, -1, -1)


def save_lora_weights(run: LoraRun, step: int, meta: dict | None, n_images: int, loss_ema: float) -> None:
    """The adapter in diffusers' LoRA format (lora/) and generator.json."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    cfg, out_dir = run.cfg, run.out_dir
    lora = convert_state_dict_to_diffusers(get_peft_model_state_dict(run.unet))
    tmp = out_dir / ".lora.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    StableDiffusionPipeline.save_lora_weights(tmp, unet_lora_layers=lora, safe_serialization=True)
    shutil.rmtree(out_dir / "lora", ignore_errors=True)
    os.replace(tmp, out_dir / "lora")
    full = dict(meta or {})
    full.update({"method": "dreambooth", "base_model": str(run.base), "weights": "lora", "trained_steps": step,
                 "resolution": cfg.resolution, "instance_prompt": cfg.instance_prompt,
                 "train_config": asdict(cfg), "n_train_images": int(n_images),
                 "final_loss": None if math.isnan(loss_ema) else loss_ema})
    write_text_atomic(out_dir / META_FILE, json.dumps(full, indent=2, sort_keys=True))


def train_dreambooth(cfg: DreamBoothConfig, base_model: Path, instance_images: np.ndarray, out_dir: Path,
                     meta: dict | None = None, *, progress=None, cancel=None) -> TrainedGenerator:
    """LoRA DreamBooth on `instance_images` ([0, 1] gray, (N, R, R) at cfg.resolution)."""
    import torch

    from hipvision.ml.device import pick_device

    t0 = time.perf_counter()
    base = resolve_base_model(base_model)
    inst = np.asarray(instance_images, np.float32)
    if inst.ndim != 3 or inst.shape[1:] != (cfg.resolution, cfg.resolution) or not len(inst):
        raise ValueError(f"instance images: expected (N, {cfg.resolution}, {cfg.resolution}), got {inst.shape}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    cls = _class_images(cfg, base, out_dir, device, progress, cancel) if cfg.prior_preservation else None
    run = build_lora(cfg, base, out_dir, device)
    x_inst, x_cls = _rgb_batch(inst), (None if cls is None else _rgb_batch(cls))
    run.unet.train()
    start = run.start
    step, loss_ema = start, float("nan")
    try:
        while step < cfg.max_steps:
            check_cancel(cancel)
            lv = lora_step(run, x_inst, x_cls, step)
            step += 1
            loss_ema = lv if math.isnan(loss_ema) else 0.95 * loss_ema + 0.05 * lv
            if progress is not None:
                progress(step, cfg.max_steps, f"LoRA step {step}, loss {loss_ema:.4f}")
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
                save_lora_checkpoint(run, step)
    except Cancelled:
        if step > start:
            save_lora_checkpoint(run, step)
        raise
    save_lora_checkpoint(run, step)
    save_lora_weights(run, step, meta, len(inst), loss_ema)
    return TrainedGenerator(out_dir, step, start, loss_ema, time.perf_counter() - t0)


def sample_dreambooth(gen_dir: Path, *, seeds, out_resolution: int, steps: int = 30, scheduler: str = "ddim",
                      guidance: float = 5.0, prompt: str | None = None, device=None, progress=None, cancel=None,
                      on_image=None) -> np.ndarray:
    """uint8 (len(seeds), out_resolution, out_resolution) gray images from a trained LoRA."""
    import cv2
    import torch
    from diffusers import DDIMScheduler, DDPMScheduler

    from hipvision.ml.device import pick_device
    from hipvision.ml.diffusion.denoiser_training import read_meta

    meta = read_meta(gen_dir)
    if meta.get("method") != "dreambooth":
        raise ValueError(f"{gen_dir}: not a DreamBooth generator (method {meta.get('method')!r})")
    base = resolve_base_model(meta["base_model"])
    device = device or pick_device("auto")
    pipe = load_pipeline(base, device, Path(gen_dir) / meta["weights"])
    if scheduler == "ddim":
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    elif scheduler == "ddpm":
        pipe.scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    else:
        raise ValueError(f"scheduler: must be ddpm or ddim, got {scheduler!r}")
    res = int(meta["resolution"])
    out = np.zeros((len(seeds), out_resolution, out_resolution), np.uint8)
    for i, seed in enumerate(seeds):
        def step_end(pipe_, k, t, kw, i=i):
            check_cancel(cancel)
            if progress is not None:
                progress(i * steps + k + 1, len(seeds) * steps, f"image {i + 1} of {len(seeds)}")
            return kw

        img = pipe(prompt or meta["instance_prompt"], num_inference_steps=steps, guidance_scale=guidance,
                   height=res, width=res, generator=torch.Generator().manual_seed(int(seed)), output_type="np",
                   callback_on_step_end=step_end).images[0]
        gray = np.clip(img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32), 0, 1)
        interp = cv2.INTER_AREA if out_resolution < res else cv2.INTER_CUBIC
        out[i] = np.clip(cv2.resize(gray, (out_resolution, out_resolution), interpolation=interp) * 255 + 0.5,
                         0, 255).astype(np.uint8)
        if on_image is not None:
            on_image(i, out[i])
    return out
