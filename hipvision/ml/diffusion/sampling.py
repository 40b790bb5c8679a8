"""Reverse diffusion for the pixel-space generators (ddpm, conditional).

DDPM with 1000 steps is the poster's sampler; DDIM (eta 0, 'trailing' spacing, which keeps
few-step samples sharp) does it in 10-50. Every image has its own seed and its own noise
generator, so image i of a run is reproducible from (generator, seed_i) alone, whatever the
batch it was sampled in. Classifier-free guidance runs the conditioned and the unconditioned
input as one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hipvision.core.jobs import check_cancel
from hipvision.ml.diffusion.imaging import from_signed

SCHEDULERS = ("ddpm", "ddim")


def make_scheduler(kind: str, config: dict, steps: int):
    from diffusers import DDIMScheduler, DDPMScheduler

    if kind not in SCHEDULERS:
        raise ValueError(f"scheduler: must be one of {SCHEDULERS}, got {kind!r}")
    if not isinstance(steps, int) or steps < 1 or steps > config.get("num_train_timesteps", 1000):
        raise ValueError(f"steps: must be in 1..{config.get('num_train_timesteps', 1000)}, got {steps!r}")
    if kind == "ddpm":
        sched = DDPMScheduler(**config)
    else:
        sched = DDIMScheduler(**config, timestep_spacing="trailing", set_alpha_to_one=False)
    sched.set_timesteps(steps)
    return sched


def sample_images(unet, scheduler_config: dict, *, seeds: Sequence[int], scheduler: str = "ddim", steps: int = 25,
                  conds: np.ndarray | None = None, guidance: float = 2.0, batch_size: int = 8, device=None,
                  progress: Callable | None = None, cancel=None,
                  on_image: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
    """uint8 (len(seeds), R, R). `conds` (N, C, R, R) is concatenated to the noisy input;
    guidance 1.0 uses the conditioned prediction only (half the cost)."""
    import torch

    n = len(seeds)
    res = int(unet.config.sample_size)
    device = device or next(unet.parameters()).device
    n_cond = int(unet.config.in_channels) - 1
    if (conds is None) != (n_cond == 0):
        raise ValueError(f"this generator takes {n_cond} condition channels, got "
                         f"{'none' if conds is None else conds.shape[1]}")
    if conds is not None and (conds.shape[0] != n or conds.shape[1] != n_cond):
        raise ValueError(f"conditions: expected ({n}, {n_cond}, {res}, {res}), got {conds.shape}")
    if not guidance >= 0:
        raise ValueError(f"guidance: must be >= 0, got {guidance!r}")
    out = np.zeros((n, res, res), np.uint8)
    dtype = next(unet.parameters()).dtype
    done_steps = 0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        sched = make_scheduler(scheduler, scheduler_config, steps)
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds[lo:hi]]
        x = torch.cat([torch.randn((1, 1, res, res), generator=g) for g in gens]).to(device, dtype)
        c = None
        if conds is not None:
            c = torch.from_numpy(np.asarray(conds[lo:hi], dtype=np.float32)).to(device, dtype)
        for t in sched.timesteps:
            check_cancel(cancel)
            with torch.no_grad():
                if c is None:
                    eps = unet(x, t).sample
                elif guidance == 1.0:
                    eps = unet(torch.cat([x, c], 1), t).sample
                else:
                    both = torch.cat([torch.cat([x, c], 1), torch.cat([x, torch.zeros_like(c)], 1)])
                    e_c, e_u = unet(both, t).sample.chunk(2)
                    eps = e_u + guidance * (e_c - e_u)
            kw = {"generator": gens} if scheduler == "ddpm" else {"eta": 0.0}
            x = sched.step(eps, t, x, **kw).prev_sample
            done_steps += hi - lo
            if progress is not None:
                progress(done_steps, n * len(sched.timesteps), f"denoising images {lo + 1}-{hi} of {n}")
        imgs = from_signed(x)
        out[lo:hi] = imgs
        if on_image is not None:
            for i, img in enumerate(imgs):
                on_image(lo + i, img)
    return out
