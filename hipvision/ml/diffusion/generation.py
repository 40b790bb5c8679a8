"""What the CLI and the GUI engine call: train a generator, generate into a project.

    train_generator(GeneratorTrainConfig, *, progress, cancel, preview=None) -> TrainedGenerator
    generate_into_project(GenerateConfig, *, progress, cancel, preview=None, gate=None) -> GenerateReport

progress(done, total, message); cancel.is_set() is checked every step and raises
hipvision.core.jobs.Cancelled (images already saved stay: each is complete);
preview(image_uint8, caption) streams every generated image as it is ready.
Generators live in <project data>/models/generators/<method>[-<framing>]/.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipvision.core.jobs import check_cancel
from hipvision.ml.diffusion.conditional import ConditionalConfig
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig, read_meta
from hipvision.ml.diffusion.dreambooth import DreamBoothConfig
from hipvision.ml.diffusion.gate import Gate, GateConfig
from hipvision.ml.diffusion.imaging import letterbox_unit
from hipvision.ml.diffusion.na_sampling import NADistribution, PlausibilityLimits
from hipvision.ml.diffusion.sampling import SCHEDULERS

METHODS = ("ddpm", "dreambooth", "conditional")
DEFAULT_GUIDANCE = {"ddpm": 1.0, "conditional": 2.0, "dreambooth": 5.0}


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")


def generator_dir(project, method: str, framing: str = "crop") -> Path:
    _check_method(method)
    name = f"conditional-{framing}" if method == "conditional" else method
    return project.models_dir / "generators" / name


def _open(project):
    from hipvision.core.store import Project

    return (Project.open(project, create=False), True) if isinstance(project, (str, Path)) else (project, False)


@dataclass(frozen=True)
class GeneratorTrainConfig:
    project: Path | str
    method: str
    train: DenoiserTrainConfig = field(default_factory=DenoiserTrainConfig)  # ddpm, conditional
    conditional: ConditionalConfig = field(default_factory=ConditionalConfig)
    dreambooth: DreamBoothConfig = field(default_factory=DreamBoothConfig)
    base_model: str | None = None  # dreambooth: a diffusers Stable Diffusion folder
    out: Path | str | None = None  # default: generator_dir(project, method)

    def __post_init__(self) -> None:
        _check_method(self.method)


def train_generator(config: GeneratorTrainConfig, *, progress=None, cancel=None, preview=None):
    """Train (or resume) the project's generator of `config.method` on its real training images."""
    from hipvision.ml.diffusion import conditional, ddpm, dreambooth
    from hipvision.ml.diffusion.sources import real_training_images

    project, owned = _open(config.project)
    try:
        out = Path(config.out) if config.out else generator_dir(project, config.method, config.conditional.framing)
        m = config.method
        if m == "dreambooth":
            base = dreambooth.resolve_base_model(config.base_model, project)  # fail before reading images
            res = config.dreambooth.resolution
            imgs = real_training_images(project, labelled=False, max_side=2 * res, progress=progress, cancel=cancel)
            inst = np.stack([letterbox_unit(im.pixels, res)[0] for im in imgs])
            result = dreambooth.train_dreambooth(config.dreambooth, base, inst, out,
                                                 {"training_images": [im.name for im in imgs]},
                                                 progress=progress, cancel=cancel)
        elif m == "ddpm":
            imgs = real_training_images(project, labelled=False, max_side=2 * config.train.resolution,
                                        progress=progress, cancel=cancel)
            result = ddpm.train_ddpm(imgs, config.train, out, progress=progress, cancel=cancel)
        else:
            imgs = real_training_images(project, labelled=True, max_side=config.conditional.max_side,
                                        progress=progress, cancel=cancel)
            result = conditional.train_conditional(imgs, config.conditional, config.train, out,
                                                   progress=progress, cancel=cancel)
        if preview is not None and m != "dreambooth":  # one quick look at what was learnt
            generate_into_project(GenerateConfig(project=project, method=m, n=1, steps=10, generator=out,
                                                 gate=GateConfig(enabled=False)),
                                  preview=preview, cancel=cancel, store=False)
        return result
    finally:
        if owned:
            project.close()


@dataclass(frozen=True)
class GenerateConfig:
    project: Path | str
    method: str
    n: int = 16
    seed: int = 0
    scheduler: str = "ddim"  # ddpm (1000 steps: the poster) | ddim (few steps)
    steps: int = 25
    guidance: float | None = None  # default: DEFAULT_GUIDANCE[method]
    na_dist: str = "uniform:75:115"  # conditional: NA of the generated hips
    generator: Path | str | None = None  # default: generator_dir(project, method, framing)
    framing: str = "crop"  # conditional: which trained generator to use by default
    batch_size: int = 8
    gate: GateConfig = field(default_factory=GateConfig)
    limits: PlausibilityLimits = field(default_factory=PlausibilityLimits)
    resolution: int | None = None  # dreambooth: output size (default: the generator's)
    prompt: str | None = None  # dreambooth: default the instance prompt
    device: str = "auto"

    def __post_init__(self) -> None:
        _check_method(self.method)
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n: must be a positive integer, got {self.n!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler: must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if not isinstance(self.steps, int) or not 1 <= self.steps <= 1000:
            raise ValueError(f"steps: must be in 1..1000, got {self.steps!r}")
        if self.guidance is not None and not self.guidance >= 0:
            raise ValueError(f"guidance: must be >= 0, got {self.guidance!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size: must be a positive integer, got {self.batch_size!r}")
        if self.method == "conditional":
            NADistribution.parse(self.na_dist).check(self.limits)


@dataclass
class GenerateReport:
    method: str
    generator: str
    requested: int
    accepted: list[int] = field(default_factory=list)  # image ids added to the project
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    gate_model: str = ""
    seconds: float = 0.0
    samples: list = field(default_factory=list)  # (image, landmarks, mapping, decision) when not stored

    def summary(self) -> str:
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.reasons.items()))
        gate = f" by the gate ({self.gate_model})" if self.gate_model else ""
        return (f"{self.method}: {len(self.accepted)} of {self.requested} images accepted, {self.rejected} "
                f"rejected{gate}{f' ({why})' if why else ''}, {self.seconds:.1f} s")


def _generator_label(project, gen_dir: Path, meta: dict) -> str:
    try:
        rel = gen_dir.resolve().relative_to(project.data_dir.resolve()).as_posix()
    except ValueError:
        rel = str(gen_dir)
    return f"{rel}/{meta.get('weights', '')} ({meta.get('trained_steps', '?')} steps)"


def _sample_unlabelled(config: GenerateConfig, gen_dir: Path, meta: dict, seeds: list[int], guidance, gate,
                       device, accept, progress, cancel) -> None:
    """DDPM or DreamBooth images; each gets the gate model's pre-label (the review queue)."""
    from hipvision.core.landmarks import SideMapping
    from hipvision.ml.diffusion import ddpm, dreambooth

    mapping = SideMapping()

    def on_image(i, img):
        check_cancel(cancel)
        d = gate.unlabelled(img, mapping) if gate is not None else None
        accept(img, mapping, seeds[i], None if d is None else d.landmarks, None, d,
               f"model:{gate.model_id}" if gate is not None else None, f"seed {seeds[i]}")

    if config.method == "ddpm":
        ddpm.sample_ddpm(gen_dir, seeds=seeds, scheduler=config.scheduler, steps=config.steps,
                         batch_size=config.batch_size, device=device, progress=progress, cancel=cancel,
                         on_image=on_image)
    else:
        out_res = config.resolution or int(meta["resolution"])
        dreambooth.sample_dreambooth(gen_dir, seeds=seeds, out_resolution=out_res, steps=config.steps,
                                     scheduler=config.scheduler, guidance=guidance, prompt=config.prompt,
                                     device=device, progress=progress, cancel=cancel, on_image=on_image)


def generate_into_project(config: GenerateConfig, *, progress=None, cancel=None, preview=None, gate: Gate | None = None,
                          store: bool = True) -> GenerateReport:
    """Generate `config.n` images, pass each through the gate, add the accepted ones to the
    project (synthetic, training split). With store=False nothing is written (previews only)."""
    from hipvision.ml.device import pick_device
    from hipvision.ml.diffusion import conditional
    from hipvision.ml.diffusion.gate import gate_for_project
    from hipvision.ml.diffusion.into_project import run_tag, save_generated
    from hipvision.ml.diffusion.sources import real_training_images

    t0 = time.perf_counter()
    project, owned = _open(config.project)
    try:
        m = config.method
        gen_dir = Path(config.generator) if config.generator else generator_dir(project, m, config.framing)
        meta = read_meta(gen_dir)
        if meta.get("method") != m:
            raise ValueError(f"{gen_dir}: holds a {meta.get('method')!r} generator, not {m!r}")
        device = pick_device(config.device)
        if gate is None and (config.gate.enabled or (store and m != "conditional")):
            # Unlabelled images need the model's pre-labels even with the gate off.
            gate = gate_for_project(project, config.gate, device=device)
        rejected0, reasons0 = (gate.rejected, Counter(gate.reasons)) if gate is not None else (0, Counter())
        label = _generator_label(project, gen_dir, meta)
        gate_model = gate.model_id if gate is not None and gate.config.enabled else ""
        report = GenerateReport(m, label, config.n, gate_model=gate_model)
        tag = run_tag()
        guidance = DEFAULT_GUIDANCE[m] if config.guidance is None else config.guidance
        seeds = [config.seed + k for k in range(config.n)]
        n_done = [0]

        def accept(image, mapping, seed, landmarks, condition, decision, author, caption):
            n_done[0] += 1
            ok = decision is None or decision.accepted
            if preview is not None:
                preview(image, caption if ok else f"{caption} — rejected: {decision.reason}")
            if not store:
                report.samples.append((image, landmarks, mapping, decision))
                return
            if not ok:
                return
            score = None if decision is None else decision.score
            rec = save_generated(project, image, method=m, generator=label, seed=seed,
                                 name=f"{tag}-{n_done[0]:04d}-s{seed}", landmarks=landmarks, condition=condition,
                                 gate_score=score, label_author=author,
                                 confidence=None if decision is None else decision.confidence, mapping=mapping)
            report.accepted.append(rec.id)

        if m == "conditional":
            imgs = real_training_images(project, labelled=True, max_side=meta.get("max_side", 1024), cancel=cancel)

            def on_sample(s):
                check_cancel(cancel)
                d = gate.labelled(s.image, s.mapping, s.landmarks) if gate is not None else None
                accept(s.image, s.mapping, s.seed, s.landmarks, s.landmarks, d, None, s.caption())

            conditional.sample_conditional(
                gen_dir, imgs, config.n, dist=NADistribution.parse(config.na_dist), seed=config.seed,
                scheduler=config.scheduler, steps=config.steps, guidance=guidance, batch_size=config.batch_size,
                limits=config.limits, device=device, progress=progress, cancel=cancel, on_sample=on_sample)
        else:
            _sample_unlabelled(config, gen_dir, meta, seeds, guidance, gate, device, accept, progress, cancel)
        if gate is not None:
            report.rejected = gate.rejected - rejected0
            report.reasons = {k: v for k, v in (gate.reasons - reasons0).items() if v}
        report.seconds = time.perf_counter() - t0
        return report
    finally:
        if owned:
            project.close()
