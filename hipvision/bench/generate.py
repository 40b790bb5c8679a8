"""Generation speed: CPU seconds per labelled 128-px image, GPU images/minute at 256 px.

A labelled image here is one conditional sample (a hip crop with its exact labels) from the
default layout (small UNet, attention at the lowest level only), DDIM with classifier-free
guidance (two UNet passes per step, batched). Weights are random: speed does not depend on
them. Goal: <= 2 s per 128-px image on a CPU.
"""

from __future__ import annotations

import statistics
import time

DESCRIPTION = "seconds per labelled 128-px generated image (CPU) and images/minute at 256 px (GPU)"
GOAL_CPU_S = 2.0


def add_arguments(p) -> None:
    p.add_argument("--steps", type=int, default=20, help="DDIM steps (default 20)")
    p.add_argument("--size", default="small", choices=("tiny", "small", "base"), help="UNet layout size")
    p.add_argument("--batch", type=int, default=8, help="images per batch")
    p.add_argument("--repeats", type=int, default=3, help="timed batches (median reported)")
    p.add_argument("--guidance", type=float, default=2.0, help="1.0 disables classifier-free guidance")
    p.add_argument("--threads", type=int, help="CPU threads (default: OMP_NUM_THREADS or cores - 1)")
    p.add_argument("--gpu-resolution", type=int, default=256)


def _time_per_image(resolution: int, size: str, steps: int, batch: int, repeats: int, guidance: float, device):
    import numpy as np
    import torch
    from diffusers import UNet2DModel

    from hipvision.core.landmarks import HipLandmarks, SideLandmarks
    from hipvision.ml.diffusion.condition_maps import condition_maps, n_channels
    from hipvision.ml.diffusion.imaging import CROP_MAPPING
    from hipvision.ml.diffusion.sampling import sample_images
    from hipvision.ml.diffusion.unet_layouts import unet_config

    torch.manual_seed(0)
    unet = UNet2DModel(**unet_config(resolution, 1 + n_channels("crop"), 1, size)).to(device).eval()
    r = resolution / 6.0  # a hip crop is 6 head radii wide
    c = resolution / 2
    lm = HipLandmarks(left=SideLandmarks(c, c, r, c + 0.3 * r, c - 1.05 * r),
                      right=SideLandmarks(c - 9 * r, c, r, c - 9.3 * r, c - 1.05 * r))
    conds = np.repeat(condition_maps(lm, CROP_MAPPING, "crop", resolution)[None], batch, 0)
    sched = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon",
             "clip_sample": True}

    def once():
        sample_images(unet, sched, seeds=list(range(batch)), steps=steps, conds=conds, guidance=guidance,
                      batch_size=batch, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()

    once()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        times.append((time.perf_counter() - t) / batch)
    return statistics.median(times), sum(p.numel() for p in unet.parameters())


def run(args) -> int:
    import torch

    from hipvision.ml.device import set_cpu_threads

    threads = set_cpu_threads(args.threads)
    cpu = torch.device("cpu")
    per, params = _time_per_image(128, args.size, args.steps, args.batch, args.repeats, args.guidance, cpu)
    verdict = "meets" if per <= GOAL_CPU_S else "MISSES"
    print(f"CPU ({threads} threads), 128 px, {args.size} UNet ({params / 1e6:.2f} M params), DDIM {args.steps} steps, "
          f"guidance {args.guidance:g}, batch {args.batch}: median {per:.3f} s per labelled image "
          f"({verdict} the <= {GOAL_CPU_S:g} s goal); a composited radiograph needs two crops: {2 * per:.3f} s")
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        res = args.gpu_resolution
        per_g, _ = _time_per_image(res, args.size, args.steps, max(args.batch, 32), args.repeats, args.guidance, gpu)
        print(f"GPU {torch.cuda.get_device_name(0)}, {res} px, {args.size} UNet, DDIM {args.steps} steps: "
              f"{60.0 / per_g:.0f} images/minute")
    else:
        print("GPU: no GPU (CUDA not available): images/minute at 256 px not measured")
    return 0
