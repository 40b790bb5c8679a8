"""`hipvision experiment --protocol poster`: the poster's Table 2 under the poster's own protocol.

The same data as `--protocol ours` (experiment.py): the project's fixed real splits, K chosen
labelled training images, the validation split for model selection, the TEST split for every
number. Each backbone is trained by poster_training (single stage, whole image, MSE
regression, kept by validation loss, fine-tuned) without synthetic images and with each pool of
poster_synthetic; our two-stage model (one backbone) is trained on the very same data sets
with the same number of epochs and samples per epoch, so its rows stand beside the table.
A re-run reuses every finished arm (a model file whose sidecar holds the same settings and
the same image names) and the sampled pools, so a long table can be built over several runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from hipvision.core.atomic import write_text_atomic
from hipvision.core.jobs import labelled
from hipvision.ml import poster_training
from hipvision.ml.poster_config import POOL_ARMS
from hipvision.ml.poster_report import PosterArm, PosterResult, make_rows
from hipvision.ml.synthetic_cache import normal_key


@dataclass
class _PosterArms:
    """Trains (or reuses) and measures one poster-protocol arm."""

    config: object  # ExperimentConfig
    data: object  # experiment._Data
    out: Path
    device: object
    images: poster_training.ImageCache
    per_epoch: int
    say: object
    cancel: object

    def train_config(self, backbone: str) -> poster_training.PosterTrainConfig:
        c, pc = self.config, self.config.poster
        return poster_training.PosterTrainConfig(
            backbone=backbone, input_size=c.input_size, epochs=c.epochs, finetune_epochs=pc.finetune_epochs,
            finetune_lr_factor=pc.finetune_lr_factor, batch_size=c.batch_size, lr=c.lr,
            samples_per_epoch=self.per_epoch, pretrained=c.pretrained, seed=c.seed)

    def __call__(self, backbone: str, which: str, train: list, n_syn: int) -> PosterArm:
        from hipvision.ml.checkpoint import CheckpointError, load_checkpoint, read_sidecar
        from hipvision.ml.data import data_summary

        t = time.perf_counter()
        val = [s for s in self.data.base if s.split == "val"]
        tc = self.train_config(backbone)
        ck = self.out / "models" / f"poster-{backbone}-{which}.safetensors"
        key = normal_key({"train_config": tc.to_dict(), "train": sorted(s.name for s in train),
                          "val": sorted(s.name for s in val)})
        try:
            meta = read_sidecar(ck)
            net = load_checkpoint(ck, device="cpu").stage1.to(self.device) if meta.get("poster_key") == key else None
        except CheckpointError:
            net = None
        reused = net is not None
        if net is None:
            res = poster_training.train_poster(tc, train, val, images=self.images, device=self.device,
                                               progress=self.say(f"poster {backbone} {which}"), cancel=self.cancel)
            poster_training.save_poster(ck, res, {"poster_key": key, "model_id": ck.stem, "train_config": tc.to_dict(),
                                                  "data_summary": data_summary(train + val),
                                                  "trained_on": "experiment"})
            meta, net = read_sidecar(ck), res.net
        test = poster_training.measure(net, self.data.test, self.images.get(self.data.test, tc.input_size),
                                       self.device)
        ext = self.data.external
        external = poster_training.measure(net, ext, self.images.get(ext, tc.input_size), self.device) if ext else {}
        return PosterArm("poster", backbone, which, n_syn, test, external, bool(meta.get("pretrained")),
                         meta.get("selected_epoch"), meta.get("finetune_epoch"), meta.get("val_loss"),
                         reused=reused, seconds=time.perf_counter() - t, checkpoint=str(ck))


def _ours(config, data, out, device, say, cancel, pools, n_syn: int) -> list[PosterArm]:
    """Our two-stage model on the same data sets, same epochs and samples per epoch (`pools`:
    the measured ones, those that hold images)."""
    from hipvision.ml.checkpoint import read_sidecar
    from hipvision.ml.experiment import _Arms

    pc = config.poster
    if pc.ours_backbone is None:
        return []
    oc = replace(config, synthetic=n_syn, epochs=config.epochs + pc.finetune_epochs, synthetic_share=None,
                 synthetic_until=1.0, more_real=0)
    arm = _Arms(oc, data, out, device, say, cancel)
    runs = [("without", data.base, 0)] + [(POOL_ARMS[p.name], data.base + p.samples, len(p.samples)) for p in pools]
    out_arms = []
    for which, samples, n in runs:
        ck = out / "models" / f"{pc.ours_backbone}-{which}.safetensors"  # where _Arms keeps it
        before = ck.stat().st_mtime_ns if ck.is_file() else None
        a = arm(pc.ours_backbone, which, samples, n)
        meta = read_sidecar(Path(a.checkpoint))
        out_arms.append(PosterArm("ours", a.backbone, a.arm, a.synthetic, a.test, a.external,
                                  bool(meta.get("pretrained")), None, None, None,
                                  before == Path(a.checkpoint).stat().st_mtime_ns, a.seconds, a.checkpoint))
    return out_arms


def run_poster_experiment(config, project, *, progress=None, cancel=None, preview=None,
                          command: str = "") -> PosterResult:
    """The table on `project` (an open Project); `config` an ExperimentConfig with protocol "poster"."""
    from hipvision.ml.device import pick_device, set_cpu_threads
    from hipvision.ml.experiment import _choose_data
    from hipvision.ml.poster_synthetic import _Ctx, build_pools

    t0 = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    say = labelled(progress)

    pc = config.poster
    data = _choose_data(config, project)
    device = pick_device(config.device)
    if device.type == "cpu":
        set_cpu_threads(config.threads)
    n_syn = pc.count(data.n_train)
    train = [s for s in data.base if s.split == "train"]
    if not any(s.split == "val" for s in data.base):
        raise ValueError(f"{project.root}: the poster protocol selects by validation loss and the validation split "
                         "has no labelled real images")
    arms_of = _PosterArms(config, data, out, device, poster_training.ImageCache(), data.n_train + n_syn, say, cancel)
    arms = [arms_of(bb, "without", train, 0) for bb in config.backbones]
    pools, label_model = build_pools(_Ctx(config, data, project, out, device, say, cancel, preview), n_syn)
    # A pool the gate emptied trains no arm: it would train on exactly the "without" data, cost as
    # much again, and read like a measured column. The report marks its column as not measured.
    measured = [p for p in pools if p.samples]
    for p in measured:
        arms += [arms_of(bb, POOL_ARMS[p.name], train + p.samples, len(p.samples)) for bb in config.backbones]
    arms += _ours(config, data, out, device, say, cancel, measured, n_syn)
    with_arms = [POOL_ARMS[p.name] for p in pools]
    g = config.gate_config
    result = PosterResult(
        rows=make_rows(arms, with_arms, data.n_train, n_syn), arms=arms, with_arms=with_arms, labelled=data.n_train,
        val_images=sum(s.split == "val" for s in data.base), test_images=len(data.test), input_size=config.input_size,
        epochs=config.epochs, finetune_epochs=pc.finetune_epochs, finetune_lr_factor=pc.finetune_lr_factor,
        samples_per_epoch=data.n_train + n_syn, pools=pools, label_model=label_model,
        gate=(f"landmark confidence >= {pc.min_confidence:g} (DDPM/DreamBooth); NA within {g.max_na_deg:g} deg and "
              f"landmarks within {g.max_point_radii:g} head radii of the condition (conditional)")
        if config.gate else "off (every image kept; DDPM/DreamBooth images still take the model's labels)",
        ours_backbone=pc.ours_backbone, seconds=time.perf_counter() - t0,
        external=(f"{config.external_test} ({len(data.external)} images)") if data.external else "")
    _write(result, config, data, out, command)
    return result


def _write(result: PosterResult, config, data, out: Path, command: str) -> None:
    md = write_text_atomic(out / "results.md", result.markdown(command))
    cs = write_text_atomic(out / "results.csv", result.csv_text())
    cfg = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    js = write_text_atomic(out / "experiment.json", json.dumps(
        {"protocol": "poster", "config": cfg, "command": command, "chosen_images": sorted(data.chosen),
         "rows": result.rows, "arms": [asdict(a) for a in result.arms],
         "pools": [{"name": p.name, "requested": p.requested, "accepted": len(p.samples), "generated": p.generated,
                    "by_source": p.by_source, "gate_rejections": p.rejections, "notes": p.notes}
                   for p in result.pools],
         "not_measured": result.not_measured(), "label_model": result.label_model, "seconds": result.seconds},
        indent=2, default=str))
    result.files = {"markdown": str(md), "csv": str(cs), "json": str(js)}
