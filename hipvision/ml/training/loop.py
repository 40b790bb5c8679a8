"""`train_keypoints(config, project_or_samples, *, progress, cancel, metrics)`: train both stages.

One loop trains the whole-image network (stage 1) and the hip-crop network (stage 2) together:
every batch holds, per radiograph, one augmented whole-image input and its two hip crops
(jittered as stage 1 would misplace them). Validation runs the real two-stage pipeline on
the validation images and early stopping watches its NA MAE, the number users care about.

AdamW, linear warm-up then cosine decay, optional EMA of the weights, AMP on CUDA, device
chosen automatically. Under `accelerate launch` (WORLD_SIZE > 1) the same loop runs data
parallel through Hugging Face Accelerate; each process reads its own shard of every epoch.
Checkpoints: the training state is saved atomically every epoch (`<output>.state.pt`, used by
`resume`), the final model (best validation epoch) as safetensors + sidecar at the end.
A cancel is checked every batch and raises `Cancelled`; files on disk are always complete.
The steps themselves live in `training.steps`.
"""

from __future__ import annotations

import time
from pathlib import Path

from hipvision.ml.device import pick_device, set_cpu_threads
from hipvision.ml.leftovers import remove_leftovers, run_lock
from hipvision.ml.training import steps
from hipvision.ml.training.config import TrainConfig, TrainResult
from hipvision.ml.training.samples import resolve_samples, split_samples


def train_keypoints(config: TrainConfig, project_or_samples, *, progress=None, cancel=None,
                    metrics=None) -> TrainResult:
    t_start, t_wall = time.monotonic(), time.time()
    samples, guessed_on, project = resolve_samples(project_or_samples, config)
    train, val = split_samples(samples, config)
    output = steps.run_output(config, project)
    accel = steps.accelerator(config)
    rank = accel.process_index if accel is not None else 0
    if rank != 0:  # only the main process writes files
        return _train(config, train, val, output, accel, guessed_on, t_start, progress, cancel, metrics)
    with run_lock(output):
        if project is not None:  # what killed runs left in the models folder (a live run's files are locked)
            remove_leftovers(project, before=t_wall)
        return _train(config, train, val, output, accel, guessed_on, t_start, progress, cancel, metrics)


def _train(config: TrainConfig, train, val, output: Path, accel, guessed_on: str, t_start: float, progress, cancel,
           metrics) -> TrainResult:
    device = accel.device if accel is not None else pick_device(config.device)
    rank, world = (accel.process_index, accel.num_processes) if accel is not None else (0, 1)
    if device.type == "cpu":
        set_cpu_threads(config.threads)
    steps.seed_everything(config.seed)
    run = steps.Run(config=config, train=train, val=val, output=output, device=device, accel=accel, rank=rank,
                    world=world, progress=progress, cancel=cancel)
    steps.build_models(run)
    steps.build_data(run)
    steps.build_optimisation(run)
    steps.restore(run)
    steps.prepare_distributed(run)

    stopped_early = False
    epoch = run.start_epoch - 1
    for epoch in range(run.start_epoch, config.epochs):
        losses = steps.train_one_epoch(run, epoch)
        if steps.validate_and_save(run, epoch, losses, guessed_on, metrics):
            stopped_early = True
            break
    epochs_run = (epoch + 1 - run.start_epoch) if run.history else 0
    return steps.finish(run, guessed_on, t_start=t_start, epochs_run=epochs_run, stopped_early=stopped_early)
