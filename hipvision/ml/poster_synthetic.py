"""The synthetic images of the poster protocol, as two pools (one table arm each):

- "unconditional": the poster's own kind. DDPM images (and DreamBooth images when a Stable
  Diffusion base model is available; otherwise DDPM makes their share too, and the report
  says so) have no labels: the label model (the project's active model unless another is
  named) labels them and the quality gate keeps those it is confident about - the app's
  stand-in for the manual labelling the study must have done. DDPM:DreamBooth in the
  poster's proportion (307:967).
- "conditional": the conditional generator's images, whose labels are exact (the condition),
  passed through the same model's gate.
Every generator learns from the experiment's chosen labelled training images only. The pools
are cached in `out/poster_pools/<pool>/` (synthetic_cache), keyed by the generators' and the
label model's weights and every sampling setting, so a re-run samples nothing it already has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from hipvision.core.landmarks import SideMapping
from hipvision.ml.diffusion.na_sampling import NADistribution
from hipvision.ml.poster_config import POSTER_DDPM, POSTER_DREAMBOOTH
from hipvision.ml.synthetic_cache import key_digest, load_synthetic, save_synthetic, weights_digest


@dataclass
class Pool:
    name: str
    samples: list  # training Samples (source synthetic)
    requested: int
    generated: int
    by_source: dict[str, int]  # accepted images per generator
    rejections: dict
    notes: list[str] = field(default_factory=list)


@dataclass
class _Ctx:
    config: object  # ExperimentConfig
    data: object  # experiment._Data
    project: object
    out: Path
    device: object
    say: object
    cancel: object
    preview: object


def _digests(gen_dir: Path) -> list[str]:
    from hipvision.ml.diffusion.denoiser_training import read_meta

    meta = read_meta(gen_dir)
    return [weights_digest(w) for w in sorted((gen_dir / meta["weights"]).rglob("*.safetensors"))]


def label_gate(ctx: _Ctx):
    """The gate with the label model: its landmarks label the unlabelled images, its agreement
    with the condition vets the conditional ones. (gate, description, weights digest)."""
    from hipvision.ml.diffusion.gate import Gate
    from hipvision.ml.predict import Predictor

    c, pc = ctx.config, ctx.config.poster
    cfg = replace(c.gate_config, enabled=c.gate, min_confidence=pc.min_confidence)
    if not c.gate and "unconditional" not in pc.pools:  # nothing to label or vet: no model needed
        return Gate(lambda im, mp: None, cfg, model_id="none"), "none (gate off, no unlabelled images)", "none"
    pred = Predictor.resolve(pc.label_model, ctx.project, device=ctx.device, threads=c.threads)
    gate = Gate(lambda im, mp: pred.predict(np.asarray(im, np.float32), mp), cfg, model_id=pred.model_id)
    seen = pred.meta.get("data_summary", {}).get("by_split", {})
    what = (f"{pred.model_id} (trained on {', '.join(f'{k}: {sum(v.values())}' for k, v in sorted(seen.items()))})"
            if seen else pred.model_id)
    return gate, what, weights_digest(Path(pred.path)) if pred.path else pred.model_id


def _chosen_images(ctx: _Ctx, max_side: int | None, labelled: bool):
    from hipvision.ml.diffusion.sources import load_record

    return [load_record(rec, lm if labelled else None, max_side) for rec, lm in ctx.data.order]


def conditional_generator(ctx: _Ctx, imgs) -> Path:
    from hipvision.ml.diffusion.conditional import train_conditional

    c = ctx.config
    if c.generator:
        return Path(c.generator)
    gen_dir = ctx.out / "generator"  # the same folder as `--protocol ours`: one out folder shares it
    train_conditional(imgs, c.conditional, replace(c.generator_train, seed=c.seed, device=c.device), gen_dir,
                      progress=ctx.say("training the conditional generator"), cancel=ctx.cancel)
    return gen_dir


def ddpm_generator(ctx: _Ctx) -> Path:
    from hipvision.ml.diffusion.ddpm import train_ddpm

    c, pc = ctx.config, ctx.config.poster
    if pc.ddpm_generator:
        return Path(pc.ddpm_generator)
    gen_dir = ctx.out / "ddpm"
    train = replace(c.generator_train, resolution=pc.ddpm_resolution, max_steps=pc.ddpm_steps, seed=c.seed,
                    device=c.device)
    train_ddpm(_chosen_images(ctx, 2 * pc.ddpm_resolution, False), train, gen_dir,
               progress=ctx.say("training the DDPM generator"), cancel=ctx.cancel)
    return gen_dir


def dreambooth_generator(ctx: _Ctx) -> tuple[Path | None, str]:
    """(LoRA folder, "") or (None, why DreamBooth is left out)."""
    from hipvision.ml.diffusion import dreambooth
    from hipvision.ml.diffusion.imaging import letterbox_unit

    c, pc = ctx.config, ctx.config.poster
    if pc.dreambooth_generator:
        return Path(pc.dreambooth_generator), ""
    try:
        base = dreambooth.resolve_base_model(pc.base_model, ctx.project)
    except dreambooth.BaseModelError as exc:
        return None, str(exc).split(":")[0]
    res = pc.dreambooth_resolution
    inst = np.stack([letterbox_unit(im.pixels, res)[0] for im in _chosen_images(ctx, 2 * res, False)])
    gen_dir = ctx.out / "dreambooth"
    cfg = dreambooth.DreamBoothConfig(resolution=res, max_steps=pc.dreambooth_steps, seed=c.seed, device=c.device)
    dreambooth.train_dreambooth(cfg, base, inst, gen_dir, {"training_images": sorted(ctx.data.chosen)},
                                progress=ctx.say("training DreamBooth"), cancel=ctx.cancel)
    return gen_dir, ""


def _fill(ctx: _Ctx, folder: Path, key: dict, wanted: dict[str, int], sample, gate) -> tuple[list, int, dict]:
    """(accepted items, generated count, rejections) for `wanted` images per source, from the
    cache or sampled through the gate (over-generating up to 3x when the gate rejects some; a
    source none of whose first n images passed is not over-generated: see `unpassed_notes`).
    An empty pool is cached like any other, so a re-run does not sample it again."""
    cached = load_synthetic(folder, key)
    if cached is not None:
        return cached
    from collections import Counter

    before = Counter(gate.reasons)
    accepted: list = []
    generated = 0
    for i, (src, n) in enumerate(wanted.items()):
        got: list = []
        seed, made = ctx.config.seed * 100_003 + 10_000_000 * i, 0  # each generator its own seeds
        while len(got) < n and made < 3 * n:
            if made and not got:
                # A whole round and not one image passed: more of the same cannot pass either, and a
                # round can cost an hour of CPU (a DDPM whose images the label model cannot read).
                break
            need = n - len(got)
            sample(src, need, seed, got)
            seed, made = seed + need, made + need
        accepted += got
        generated += made
    reasons = {k: v for k, v in (gate.reasons - before).items() if v}
    folder.mkdir(parents=True, exist_ok=True)
    save_synthetic(folder, key, accepted, generated, reasons)
    return accepted, generated, reasons


REASON_WORDS = {"confidence": "low confidence", "landmarks": "landmarks off the condition",
                "na": "NA off the condition"}


def unpassed_notes(wanted: dict[str, int], by_source: dict[str, int], reasons: dict,
                   generated: int) -> list[str]:
    """A note for each source none of whose images passed the gate. `_fill` stops such a source
    after its first n images; a pool cached by an older version may have made up to 3n, so the
    note says "not over-generated" only when the pool's total shows it (`generated`: all sources)."""
    notes = []
    single = len(wanted) == 1
    for src, n in wanted.items():
        if n and not by_source.get(src):
            made = generated if single else n
            # the pool's rejection counts are this source's alone only when they add up to what it made
            why = ", ".join(f"{REASON_WORDS.get(k, k)} {v}" for k, v in sorted(reasons.items()))
            why = f" ({why})" if why and sum(reasons.values()) == made else ""
            tail = "; not over-generated (more of the same cannot pass)" if made == n else ""
            notes.append(f"{src}: 0 of {made} images passed the gate{why}{tail}")
    return notes


def _sampler(ctx: _Ctx, gens: dict[str, Path], imgs, gate):
    """sample(source, n, seed, into): n images of one generator; accepted ones appended to `into`."""
    from hipvision.ml.diffusion.conditional import LabelledSynthetic, sample_conditional

    c, pc = ctx.config, ctx.config.poster

    def unlabelled(src, seeds, into):
        def on_image(i, img):
            d = gate.unlabelled(img, SideMapping())
            if d.accepted and d.landmarks is not None:
                into.append(LabelledSynthetic(image=img, landmarks=d.landmarks, mapping=SideMapping(),
                                              seed=seeds[i], source=src))
            if ctx.preview is not None:
                ctx.preview(img, f"{src} seed {seeds[i]}" + ("" if d.accepted else f" — rejected: {d.reason}"))
        return on_image

    def sample(src, n, seed, into):
        from hipvision.ml.diffusion import ddpm, dreambooth

        seeds = [seed + k for k in range(n)]
        progress = ctx.say(f"generating {src} images")
        if src == "conditional":
            def on_sample(s):
                if gate.labelled(s.image, s.mapping, s.landmarks).accepted:
                    into.append(s)
            sample_conditional(gens[src], imgs, n, dist=NADistribution.parse(c.na_dist), seed=seed,
                               steps=c.sample_steps, guidance=c.guidance, device=ctx.device, progress=progress,
                               cancel=ctx.cancel, on_sample=on_sample)
        elif src == "ddpm":
            steps = 1000 if pc.ddpm_scheduler == "ddpm" else c.sample_steps
            ddpm.sample_ddpm(gens[src], seeds=seeds, scheduler=pc.ddpm_scheduler, steps=steps, device=ctx.device,
                             progress=progress, cancel=ctx.cancel, on_image=unlabelled(src, seeds, into))
        else:
            dreambooth.sample_dreambooth(gens[src], seeds=seeds, out_resolution=pc.dreambooth_resolution,
                                         steps=c.sample_steps, device=ctx.device, progress=progress,
                                         cancel=ctx.cancel, on_image=unlabelled(src, seeds, into))
    return sample


def build_pools(ctx: _Ctx, n: int) -> tuple[list[Pool], str]:
    """The pools the config asks for, `n` requested images each; and the label model's description."""
    from hipvision.ml.data import synthetic_sample

    c, pc = ctx.config, ctx.config.poster
    gate, label_model, label_digest = label_gate(ctx)
    pools = []
    for name in pc.pools:
        notes: list[str] = []
        imgs = None
        if name == "conditional":
            imgs = _chosen_images(ctx, c.conditional.max_side, True)
            gens = {"conditional": conditional_generator(ctx, imgs)}
            wanted = {"conditional": n}
        else:
            gens = {"ddpm": ddpm_generator(ctx)}
            db, why = dreambooth_generator(ctx)
            n_db = round(n * POSTER_DREAMBOOTH / (POSTER_DDPM + POSTER_DREAMBOOTH)) if db is not None else 0
            if db is not None:
                gens["dreambooth"] = db
            else:
                notes.append(f"DreamBooth left out ({why}); DDPM made its share too")
            wanted = {"ddpm": n - n_db, "dreambooth": n_db} if n_db else {"ddpm": n}
        key = {"pool": name, "generators": {k: _digests(v) for k, v in gens.items()}, "wanted": wanted,
               "images": sorted(ctx.data.chosen), "seed": c.seed, "steps": c.sample_steps, "guidance": c.guidance,
               "na_dist": c.na_dist if name == "conditional" else None,
               "ddpm_scheduler": pc.ddpm_scheduler if name != "conditional" else None,
               "label_model": label_digest, "gate": asdict(gate.config)}
        items, generated, reasons = _fill(ctx, ctx.out / "poster_pools" / name, key, wanted,
                                          _sampler(ctx, gens, imgs, gate), gate)
        tag = key_digest(key)  # in the names: a model is reused only for the very same images
        samples = [synthetic_sample(np.asarray(s.image, np.float32), s.landmarks, s.mapping,
                                    f"{name}-{tag}-{_source(s)}-{s.seed}") for s in items]
        by = {src: sum(_source(s) == src for s in items) for src in wanted}
        notes += unpassed_notes(wanted, by, reasons, generated)
        pools.append(Pool(name, samples, n, generated, by, reasons, notes))
    return pools, label_model


def _source(item) -> str:
    # conditional items name the real image they were drawn over; unlabelled ones their generator
    return item.source if item.source in ("ddpm", "dreambooth") else "conditional"
