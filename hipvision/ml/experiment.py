"""The poster's Table 2 on a project: each backbone trained without and with synthetic images.

Protocol (so the comparison is fair and the numbers honest):
- the project's fixed real splits; `labelled` real training images (a seeded subset, or all),
  the real validation split for model selection, the real TEST split for every reported number;
- the conditional generator learns from those same labelled training images only;
- "without" and "with" runs of a backbone share the seed, the epochs and the number of
  optimisation steps (every epoch is padded to labelled + synthetic samples, the real-only run
  repeating its images under augmentation), so the only difference is the synthetic data;
- synthetic images optionally pass the quality gate of the first backbone's real-only model
  (trained on the same labelled images: nothing from val/test leaks in);
- optionally (`more_real` > 0) a third arm per backbone trains on the labelled images plus that
  many *other real* training images, same budget: the ceiling that more real data reaches, so a
  reader can tell "synthetic images do not help" from "more data of any kind does not help";
- optionally every model is also measured on an independent labelled folder (`external_test`),
  because a project's test split is often too small to tell a few percent apart.
A re-run reuses each model trained with exactly the same settings on exactly the same images,
and the sampled images (synthetic_cache), so changing one knob retrains only what it touches.
Writes results.md, results.csv and experiment.json (config, per-run metrics) to `out`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from hipvision.core.atomic import write_text_atomic
from hipvision.core.jobs import check_cancel, labelled
from hipvision.core.synthetic_mix import DEFAULT_SHARE, DEFAULT_UNTIL, check_mix
from hipvision.ml.diffusion.conditional import ConditionalConfig
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
from hipvision.ml.diffusion.gate import GateConfig
from hipvision.ml.diffusion.na_sampling import NADistribution, PlausibilityLimits
from hipvision.ml.experiment_report import ARM_LABELS, ArmResult, ExperimentResult, make_rows
from hipvision.ml.poster_config import PosterConfig, expand_backbones
from hipvision.ml.synthetic_cache import key_digest, load_synthetic, save_synthetic, weights_digest


@dataclass(frozen=True)
class ExperimentConfig:
    backbones: tuple[str, ...]
    out: Path | str
    synthetic: int = 120
    labelled: int | None = 40  # None: every labelled real training image
    more_real: int = 0  # >0: also train each backbone with this many extra real training images
    seed: int = 0
    # keypoint training (identical for both arms)
    epochs: int = 10
    batch_size: int = 8
    input_size: int = 256
    crop_size: int = 96
    lr: float = 1e-3
    pretrained: bool = True
    # how the "with" arm mixes synthetic images in (core.synthetic_mix)
    synthetic_share: float | None = DEFAULT_SHARE
    synthetic_until: float = DEFAULT_UNTIL
    threads: int | None = None
    # the generator
    generator: Path | str | None = None  # an already trained conditional generator (else one is trained)
    external_test: Path | str | None = None  # a labelled folder (annotations.json) measured besides the test split
    generator_train: DenoiserTrainConfig = field(default_factory=lambda: DenoiserTrainConfig(
        resolution=64, unet_size="small", batch_size=16, max_steps=3000, warmup_steps=200, checkpoint_every=1000))
    conditional: ConditionalConfig = field(default_factory=ConditionalConfig)
    na_dist: str = "uniform:75:115"
    sample_steps: int = 25
    guidance: float = 2.0
    gate: bool = True
    gate_config: GateConfig = field(default_factory=GateConfig)
    device: str = "auto"
    protocol: str = "ours"  # "poster": the poster's own training protocol (poster_experiment.py)
    poster: PosterConfig = field(default_factory=PosterConfig)

    def __post_init__(self) -> None:
        from hipvision.ml.zoo import check_backbone_name

        bbs = expand_backbones(self.backbones)  # presets: poster18, poster-cpu
        if not bbs:
            raise ValueError("backbones: name at least one backbone")
        if len(set(bbs)) != len(bbs):
            raise ValueError(f"backbones: each backbone once, got {', '.join(bbs)}")
        for b in bbs:
            check_backbone_name(b)
        object.__setattr__(self, "backbones", bbs)
        if not isinstance(self.synthetic, int) or self.synthetic < 1:
            raise ValueError(f"synthetic: must be a positive integer, got {self.synthetic!r}")
        if not isinstance(self.more_real, int) or self.more_real < 0:
            raise ValueError(f"more_real: must be an integer >= 0, got {self.more_real!r}")
        if self.more_real and self.labelled is None:
            raise ValueError("more_real: needs --labelled K (with every image labelled there are no extra ones)")
        if self.labelled is not None and (not isinstance(self.labelled, int) or self.labelled < 2):
            raise ValueError(f"labelled: must be an integer >= 2 or None, got {self.labelled!r}")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs: must be a positive integer, got {self.epochs!r}")
        check_mix(self.synthetic_share, self.synthetic_until)
        if self.external_test is not None and not (Path(self.external_test) / "annotations.json").is_file():
            raise ValueError(f"external_test: {self.external_test} is not a labelled folder (no annotations.json)")
        NADistribution.parse(self.na_dist).check(PlausibilityLimits())
        if self.protocol not in ("ours", "poster"):
            raise ValueError(f"protocol: must be ours or poster, got {self.protocol!r}")
        if self.protocol == "poster" and self.more_real:
            raise ValueError("more_real: the reference arm of more real images belongs to --protocol ours")


def _contact_sheet(samples, path: Path, n: int = 8) -> None:
    """The first synthetic images side by side, with their labels drawn (for the eye only)."""
    import cv2

    from hipvision.core.atomic import write_bytes_atomic

    tiles = []
    for s in samples[:n]:
        img = cv2.cvtColor(np.asarray(s.image, np.uint8), cv2.COLOR_GRAY2BGR)
        k = 256 / max(img.shape[:2])
        img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
        for side in (s.landmarks.left, s.landmarks.right):
            centre = (round(side.head_x * k), round(side.head_y * k))
            cv2.circle(img, centre, max(1, round(side.head_r * k)), (0, 0, 255), 1)
            cv2.circle(img, (round(side.rim_x * k), round(side.rim_y * k)), 2, (0, 255, 0), -1)
        pad = np.zeros((256, 256, 3), np.uint8)
        pad[:img.shape[0], :img.shape[1]] = img
        tiles.append(pad)
    if tiles:
        ok, buf = cv2.imencode(".png", np.concatenate(tiles, axis=1))
        if ok:
            write_bytes_atomic(path, buf.tobytes())


def _reusable(ck: Path, tc, samples) -> dict | None:
    """Metrics of an existing checkpoint trained with exactly `tc` on exactly `samples`
    (so a re-run after a crash or with other synthetic settings skips it), else None."""
    from hipvision.ml.checkpoint import CheckpointError, read_sidecar
    from hipvision.ml.data import data_summary
    from hipvision.ml.training import LEGACY_DEFAULTS, TrainConfig

    try:
        meta = read_sidecar(ck)
    except CheckpointError:
        return None
    stored = dict(meta.get("train_config") or {})
    # A field added to TrainConfig after the model was trained: it was trained as the default is.
    defaults = json.loads(json.dumps(TrainConfig().to_dict(), default=str))
    current = json.loads(json.dumps(tc.to_dict(), default=str))
    for k in current.keys() - stored.keys():
        stored[k] = LEGACY_DEFAULTS.get(k, defaults[k])
    # Where the file was written does not change the model (an out folder may be copied or moved),
    # and without synthetic images how they would be mixed in does not either.
    ignore = {"output"} | (set() if any(s.source == "synthetic" for s in samples) else set(LEGACY_DEFAULTS))
    for k in ignore:
        stored.pop(k, None)
        current.pop(k, None)
    same_config = stored == current
    same_data = meta.get("data_summary") == json.loads(json.dumps(data_summary(samples)))
    try:
        same_images = json.loads(_inputs_file(ck).read_text()) == sorted(s.name for s in samples)
    except (OSError, ValueError):
        return None
    return dict(meta.get("metrics", {})) if same_config and same_data and same_images else None


def _inputs_file(ck: Path) -> Path:
    return ck.with_name(ck.stem + ".inputs.json")


def _external_samples(folder) -> list:
    """The independent test set: a labelled folder (annotations.json) of real images that no
    arm trains on. A project's test split is often small (15 images here), too few to tell
    a few percent apart; this measures every model on many more."""
    from hipvision.ml.evaluate import resolve_eval_samples

    samples = resolve_eval_samples(Path(folder), ())
    if not samples:
        raise ValueError(f"{folder}: the independent test set has no labelled images")
    return samples


def _mix_text(config: ExperimentConfig) -> str:
    share = ("in proportion to their count" if config.synthetic_share is None
             else f"as {config.synthetic_share:.0%} of each epoch")
    if config.synthetic_until < 1.0:
        share += f" for the first {config.synthetic_until:.0%} of the epochs, then real images only"
    return share


def choose_labelled(project, k: int | None, seed: int) -> list:
    """The experiment's labelled real training images: a seeded subset of k (all for None),
    as (ImageRecord, HipLandmarks) sorted by path. The same (project, k, seed) gives the same set."""
    items = sorted(project.labelled(("train",), source="real"), key=lambda x: x[0].path)
    if len(items) < 2:
        raise ValueError(f"{project.root}: needs at least 2 labelled real training images")
    if k is None:
        return items
    if k > len(items):
        raise ValueError(f"labelled: asked for {k} images, the training split has {len(items)} labelled real images")
    pick = np.random.default_rng([seed, 3]).choice(len(items), k, replace=False)
    return [items[i] for i in sorted(pick)]


def choose_more_real(project, chosen: set, n: int, seed: int) -> set:
    """n labelled real training images outside `chosen` (seeded), for the reference arm."""
    rest = sorted(rec.path for rec, _ in project.labelled(("train",), source="real") if rec.path not in chosen)
    if n > len(rest):
        raise ValueError(f"more_real: asked for {n} extra real images, the training split has {len(rest)} "
                         "labelled real images beyond the chosen ones")
    pick = np.random.default_rng([seed, 5]).choice(len(rest), n, replace=False)
    return {rest[i] for i in sorted(pick)}


@dataclass
class _Data:
    """The images of one experiment: the chosen labelled ones, the extra real ones, the test sets."""

    order: list  # (ImageRecord, HipLandmarks) of the chosen labelled images, in choice order
    chosen: set[str]
    extra: set[str]
    base: list  # Samples: the chosen training images and the validation split
    more: list  # Samples: the extra real training images
    test: list
    external: list

    @property
    def n_train(self) -> int:
        return sum(s.split == "train" for s in self.base)


def _choose_data(config: ExperimentConfig, project) -> _Data:
    from hipvision.ml.data import samples_from_project

    order = choose_labelled(project, config.labelled, config.seed)
    chosen = {rec.path for rec, _ in order}
    extra = choose_more_real(project, chosen, config.more_real, config.seed) if config.more_real else set()
    real = samples_from_project(project, ("train", "val"), source="real")
    test = samples_from_project(project, ("test",), source="real")
    if not test:
        raise ValueError(f"{project.root}: the test split has no labelled real images to measure on")
    return _Data(order=order, chosen=chosen, extra=extra,
                 base=[s for s in real if s.split == "val" or s.name in chosen],
                 more=[s for s in real if s.split == "train" and s.name in extra], test=test,
                 external=_external_samples(config.external_test) if config.external_test else [])


@dataclass
class _Arms:
    """Trains and measures one arm (backbone x data) of the table."""

    config: ExperimentConfig
    data: _Data
    out: Path
    device: object
    say: Callable
    cancel: object

    @property
    def per_epoch(self) -> int:
        return self.data.n_train + max(self.config.synthetic, self.config.more_real)

    def train_config(self):
        from hipvision.ml.training import TrainConfig

        c = self.config
        return TrainConfig(epochs=c.epochs, batch_size=c.batch_size, input_size=c.input_size, crop_size=c.crop_size,
                           crop_factor=c.conditional.crop_radii, lr=c.lr, seed=c.seed, patience=0,
                           min_samples_per_epoch=self.per_epoch, pretrained=c.pretrained, threads=c.threads,
                           device=c.device, trained_on="experiment")

    def __call__(self, backbone: str, which: str, samples, n_syn: int) -> ArmResult:
        from hipvision.ml.evaluate import evaluate
        from hipvision.ml.predict import Predictor
        from hipvision.ml.training import train_keypoints

        config = self.config
        ck = self.out / "models" / f"{backbone}-{which}.safetensors"
        tc = replace(self.train_config(), backbone=backbone, output=str(ck), name=ck.stem)
        if which == "with":
            tc = replace(tc, synthetic_share=config.synthetic_share, synthetic_until=config.synthetic_until)
        t = time.perf_counter()
        metrics = _reusable(ck, tc, samples)
        if metrics is None:
            res = train_keypoints(tc, samples, progress=self.say(f"{backbone} {ARM_LABELS[which]}"),
                                  cancel=self.cancel)
            metrics, epochs_run = res.metrics, res.epochs_run
            write_text_atomic(_inputs_file(ck), json.dumps(sorted(s.name for s in samples)))
        else:  # an earlier run of this experiment trained exactly this model on exactly these images
            epochs_run = config.epochs
        pred = Predictor.load(ck, device=self.device, threads=config.threads)
        rep = evaluate(pred, self.data.test, splits=("test",), cancel=self.cancel)
        per_epoch = self.per_epoch
        steps = (per_epoch // min(config.batch_size, per_epoch)) * epochs_run  # as train_keypoints counts
        external = self.data.external
        ext = evaluate(pred, external, splits=(), cancel=self.cancel).by_split.get("all", {}) if external else {}
        return ArmResult(backbone, which, n_syn, rep.by_split.get("test", {}), metrics.get("val_na_mae"), steps,
                         time.perf_counter() - t, str(ck), external=ext)


def _gate(config: ExperimentConfig, first: ArmResult, device):
    """The quality gate, judged by the first arm's model, or None when switched off."""
    from hipvision.ml.diffusion.gate import Gate
    from hipvision.ml.predict import Predictor

    if not config.gate:
        return None
    gp = Predictor.load(first.checkpoint, device=device, threads=config.threads)
    # Scale the limits to what the gate model's own validation error explains (2.5x its
    # NA MAE): a model a few degrees off must not reject good images for its own mistakes,
    # and an accurate one can hold the labels to its accuracy. Clamped to 0.5-3x the
    # configured limits; the report states the limits used.
    k = min(3.0, max(0.5, 2.5 * (first.val_na_mae or 0.0) / config.gate_config.max_na_deg))
    gate_cfg = replace(config.gate_config, max_na_deg=config.gate_config.max_na_deg * k,
                       max_point_radii=config.gate_config.max_point_radii * k)
    return Gate(lambda im, mp: gp.predict(np.asarray(im, np.float32), mp), gate_cfg, model_id=gp.model_id)


def _synthetic(config: ExperimentConfig, gen_dir: Path, imgs, data: _Data, gate, first: ArmResult, out: Path,
               device, say, cancel, preview) -> tuple[list, int, dict, dict]:
    """(accepted samples, generated count, gate rejection reasons, cache key): sampled from the conditional
    generator through the gate, or read back from an earlier run with the same inputs."""
    from hipvision.ml.diffusion.conditional import sample_conditional

    accepted: list = []

    def on_sample(s):
        ok = gate is None or gate.labelled(s.image, s.mapping, s.landmarks).accepted
        if ok:
            accepted.append(s)
        if preview is not None:
            preview(s.image, s.caption() + ("" if ok else " — rejected"))

    gen_meta = json.loads((gen_dir / "generator.json").read_text())
    weights = sorted((gen_dir / gen_meta["weights"]).rglob("*.safetensors"))
    key = {"generator": [weights_digest(w) for w in weights], "images": sorted(data.chosen),
           "na_dist": config.na_dist, "seed": config.seed, "steps": config.sample_steps, "guidance": config.guidance,
           "synthetic": config.synthetic,
           "gate": None if gate is None else [weights_digest(Path(first.checkpoint)), asdict(gate.config)]}
    cached = load_synthetic(out, key)
    if cached is not None:
        accepted, generated, reasons = cached
    else:
        # Over-generate when the gate rejects, up to 3x, so the arm gets the requested count.
        seed, generated = config.seed * 100_003, 0
        while len(accepted) < config.synthetic and generated < 3 * config.synthetic:
            need = config.synthetic - len(accepted)
            sample_conditional(gen_dir, imgs, need, dist=NADistribution.parse(config.na_dist), seed=seed,
                               steps=config.sample_steps, guidance=config.guidance, device=device,
                               progress=say("generating synthetic images"), cancel=cancel, on_sample=on_sample)
            seed += need
            generated += need
        reasons = dict(gate.reasons) if gate is not None else {}
        save_synthetic(out, key, accepted, generated, reasons)
    return accepted, generated, reasons, key


def _write_results(result: ExperimentResult, config: ExperimentConfig, data: _Data, out: Path, command: str) -> None:
    md = write_text_atomic(out / "results.md", result.markdown(command))
    cs = write_text_atomic(out / "results.csv", result.csv_text())
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    js = write_text_atomic(out / "experiment.json", json.dumps(
        {"config": cfg, "command": command, "chosen_images": sorted(data.chosen),
         "more_real_images": sorted(data.extra), "rows": result.rows,
         "arms": [asdict(a) for a in result.arms], "gate_rejections": result.gate_rejections,
         "seconds": result.seconds}, indent=2, default=str))
    result.files = {"markdown": str(md), "csv": str(cs), "json": str(js)}


def run_experiment(config: ExperimentConfig, project, *, progress=None, cancel=None, preview=None,
                   command: str = "") -> ExperimentResult:
    """Run the table on `project` (a Project or its folder); a PosterResult for protocol "poster"."""
    from hipvision.core.store import Project
    from hipvision.ml.data import synthetic_sample
    from hipvision.ml.device import pick_device
    from hipvision.ml.diffusion.conditional import train_conditional
    from hipvision.ml.diffusion.sources import load_record

    t0 = time.perf_counter()
    owned = isinstance(project, (str, Path))
    if owned:
        project = Project.open(project, create=False)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    say = labelled(progress)

    try:
        if config.protocol == "poster":
            from hipvision.ml.poster_experiment import run_poster_experiment

            return run_poster_experiment(config, project, progress=progress, cancel=cancel, preview=preview,
                                         command=command)
        data = _choose_data(config, project)
        device = pick_device(config.device)
        # ---- the generator, trained on the chosen labelled images only
        cond_cfg = config.conditional
        imgs = [load_record(rec, lm, cond_cfg.max_side) for rec, lm in data.order]
        if config.generator:
            gen_dir = Path(config.generator)
        else:
            gen_dir = out / "generator"
            check_cancel(cancel)
            train_conditional(imgs, cond_cfg, replace(config.generator_train, seed=config.seed, device=config.device),
                              gen_dir, progress=say("training the conditional generator"), cancel=cancel)
        arm = _Arms(config, data, out, device, say, cancel)
        arms = [arm(bb, "without", data.base, 0) for bb in config.backbones]
        arms += [arm(bb, "more_real", data.base + data.more, 0) for bb in (config.backbones if data.more else ())]

        # ---- synthetic images (in memory; the project is not changed)
        gate = _gate(config, arms[0], device)
        accepted, generated, reasons, key = _synthetic(config, gen_dir, imgs, data, gate, arms[0], out, device, say,
                                                       cancel, preview)
        _contact_sheet(accepted, out / "synthetic_examples.png")
        # The names carry the key's digest, so a "with" model is reused only for the very same images.
        tag = key_digest(key)
        syn = [synthetic_sample(np.asarray(s.image, np.float32), s.landmarks, s.mapping, f"synthetic-{tag}-{s.seed}")
               for s in accepted]
        arms += [arm(bb, "with", data.base + syn, len(syn)) for bb in config.backbones]

        meta = json.loads((gen_dir / "generator.json").read_text())
        result = ExperimentResult(
            rows=make_rows(config.backbones, arms, data.n_train, len(syn), len(data.more)), arms=arms,
            labelled=data.n_train, synthetic_generated=generated, synthetic_accepted=len(syn),
            gate_rejections=reasons,
            generator=f"{gen_dir} ({meta.get('trained_steps')} steps, {meta.get('resolution')} px, "
                      f"{meta.get('framing')})",
            gate="off" if gate is None else (f"{gate.model_id}, NA within {gate.config.max_na_deg:.1f} deg, landmarks "
                                             f"within {gate.config.max_point_radii:.2f} head radii"),
            test_images=len(data.test), seconds=time.perf_counter() - t0, more_real=len(data.more),
            mix=_mix_text(config), external=(f"{config.external_test} ({len(data.external)} images, "
                                             f"{2 * len(data.external)} hips)") if data.external else "")
        _write_results(result, config, data, out, command)
        return result
    finally:
        if owned:
            project.close()
