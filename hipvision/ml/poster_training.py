"""The poster's training protocol for one backbone: one network, whole image, MSE regression.

What the study describes, as closely as the app allows:
- one stage: the whole radiograph, letterboxed to `input_size`, goes through an ImageNet CNN
  whose pooled features an MLP maps straight to the 4 keypoints and 2 head radii (the
  "regression" head of ml/model.py), trained with MSE on coordinates scaled to 0..1;
- the kept model is the epoch of lowest *validation loss* (the same MSE on the un-augmented
  validation images) - not our NA MAE: the poster selected by loss;
- then a short fine-tune from those weights at `finetune_lr_factor` x lr for `finetune_epochs`
  epochs, kept again by validation loss (the selected weights themselves are candidate 0, so
  a fine-tune that only overfits changes nothing).
Validation NA MAE is recorded for every epoch (for the reader), never used to choose.
Augmentation: the whole-image part of ml/data's (rotation, scale, shift, flip, intensity); the
zoomed view is off, since a poster model never sees anything but the whole image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hipvision.core.geometry import GeometryError
from hipvision.core.jobs import check_cancel
from hipvision.ml.data import AugmentConfig, CachedImage, CacheSpec, Sample, cache_image, stage1_example
from hipvision.ml.metrics import compare, summarise
from hipvision.ml.model import KeypointNet, keypoint_loss, stage1_spec
from hipvision.ml.training.validation import to_landmarks
from hipvision.ml.transforms import Letterbox


@dataclass(frozen=True)
class PosterTrainConfig:
    backbone: str = "resnet18"
    input_size: int = 256
    epochs: int = 30
    finetune_epochs: int = 5
    finetune_lr_factor: float = 0.1
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    samples_per_epoch: int = 0  # pad every epoch to this many samples (0: one pass over the images)
    pretrained: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        from hipvision.ml.zoo import check_backbone_name

        check_backbone_name(self.backbone)
        if not isinstance(self.input_size, int) or not 64 <= self.input_size <= 1024 or self.input_size % 32:
            raise ValueError(f"input_size: must be a multiple of 32 in 64..1024, got {self.input_size!r}")
        for name, lo in (("epochs", 1), ("finetune_epochs", 0), ("batch_size", 1), ("samples_per_epoch", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name}: must be an integer >= {lo}, got {v!r}")
        for name in ("lr", "finetune_lr_factor"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: must be a positive number, got {v!r}")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise ValueError(f"weight_decay: must be a number >= 0, got {self.weight_decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PosterTrainResult:
    net: KeypointNet
    history: list[dict]  # one row per epoch: phase, epoch, train_loss, val_loss, val_na_mae
    selected_epoch: int  # main phase, by validation loss
    finetune_epoch: int  # 0: the fine-tune did not lower the validation loss (selected weights kept)
    val_loss: float
    pretrained: bool
    extras: dict = field(default_factory=dict)


# Whole-image augmentation only: no zoomed view (the pipeline's second pass is ours, not the poster's).
POSTER_AUGMENT = AugmentConfig(zoom=0.0)


def cache_spec(input_size: int) -> CacheSpec:
    # The crop patches are never read here; the smallest crop keeps them cheap.
    return CacheSpec(stage1_size=input_size, crop_size=32, crop_factor=6.0)


class ImageCache:
    """Decoded images per (name, input size), shared by every arm and backbone of a run:
    decoding a radiograph once per experiment instead of once per model."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], CachedImage] = {}

    def get(self, samples: list[Sample], input_size: int, cancel=None) -> list[CachedImage]:
        out = []
        for s in samples:
            check_cancel(cancel)
            key = (s.label, input_size)
            if key not in self._items:
                self._items[key] = cache_image(s, cache_spec(input_size))
            out.append(self._items[key])
        return out


def _batch(cache: list[CachedImage], idx: list[int], size: int, seed: int, epoch: int, augment: AugmentConfig):
    imgs, pts, rads = [], [], []
    for i in idx:
        rng = np.random.default_rng([seed, epoch, int(i)])
        im, p, r = stage1_example(cache[i % len(cache)], size, rng, augment)
        imgs.append(im[None])
        pts.append(p)
        rads.append(r)
    return (torch.from_numpy(np.stack(imgs)), torch.from_numpy(np.stack(pts)), torch.from_numpy(np.stack(rads)))


def predict_hips(net: KeypointNet, cache: list[CachedImage], device, batch: int = 16) -> list[np.ndarray]:
    """(2, 5) image-order hips in full-image pixels per cached image: the single network on the
    whole image, letterboxed - no crop stage, no test-time augmentation."""
    size = net.spec.input_size
    net.eval()
    out = []
    with torch.no_grad():
        for lo in range(0, len(cache), batch):
            part = cache[lo:lo + batch]
            x, _, _ = _batch(part, list(range(len(part))), size, 0, 0, AugmentConfig.off())
            o = net(x.to(device))
            for c, p, r in zip(part, o.points.cpu().numpy(), o.radii.cpu().numpy()):
                fwd = Letterbox(c.full_size[0], c.full_size[1], size).affine  # full image -> input
                full = fwd.inverse().apply(p)  # image-left head, image-right head, image-left rim, image-right rim
                rad = r / fwd.scale
                out.append(np.array([[*full[0], rad[0], *full[2]], [*full[1], rad[1], *full[3]]]))
    return out


def measure(net: KeypointNet, samples: list[Sample], cache: list[CachedImage], device) -> dict:
    """summarise() of the poster model's NA/landmark errors on `samples` (ml/metrics, as every report)."""
    rows = []
    for s, hips in zip(samples, predict_hips(net, cache, device)):
        try:
            rows += compare(s.label, to_landmarks(hips, s.mapping), s.landmarks, split=s.split, spacing=s.spacing)
        except GeometryError:
            continue  # degenerate prediction (coincident points): counted as missing, as in validation
    return summarise(rows)


def validation_numbers(net: KeypointNet, val: list[Sample], cache: list[CachedImage], device) -> tuple[float, dict]:
    """(validation loss, NA metrics) of the current weights. The loss chooses; the metrics are
    only recorded."""
    net.eval()
    size, spec = net.spec.input_size, net.spec
    total, n = 0.0, 0
    with torch.no_grad():
        for lo in range(0, len(cache), 16):
            part = cache[lo:lo + 16]
            x, p, r = _batch(part, list(range(len(part))), size, 0, 0, AugmentConfig.off())
            loss, _ = keypoint_loss(net(x.to(device)), spec, p.to(device), r.to(device))
            total += float(loss) * len(part)
            n += len(part)
    return total / max(n, 1), measure(net, val, cache, device)


def _epoch(net, opt, cache, config: PosterTrainConfig, epoch: int, device, cancel) -> float:
    n = max(len(cache), config.samples_per_epoch)
    order = np.random.default_rng([config.seed, epoch, 7]).permutation(n)
    bs = min(config.batch_size, n)
    net.train()
    total, steps = 0.0, 0
    for lo in range(0, n - bs + 1, bs):  # drop the last partial batch (BatchNorm and a batch of 1)
        check_cancel(cancel)
        x, p, r = _batch(cache, [int(i) for i in order[lo:lo + bs]], net.spec.input_size, config.seed, epoch,
                         POSTER_AUGMENT)
        loss, _ = keypoint_loss(net(x.to(device)), net.spec, p.to(device), r.to(device))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged (loss {float(loss)}) at epoch {epoch + 1}; try a lower lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        total += float(loss.detach())
        steps += 1
    return total / max(steps, 1)


def _snapshot(net) -> dict:
    return {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}


def _phase(net, opt, sched, train_cache, val, val_cache, config, phase, epochs, offset, device, say, cancel,
           best: tuple[float, int, dict], history: list) -> tuple[float, int, dict]:
    """Train `epochs` epochs; returns (best validation loss, its epoch in this phase, its weights)."""
    for e in range(epochs):
        train_loss = _epoch(net, opt, train_cache, config, offset + e, device, cancel)
        if sched is not None:
            sched.step()
        val_loss, vm = validation_numbers(net, val, val_cache, device)
        history.append({"phase": phase, "epoch": e + 1, "train_loss": train_loss, "val_loss": val_loss,
                        "val_na_mae": vm.get("na_mae"), "val_na_mape": vm.get("na_mape")})
        if val_loss < best[0]:
            best = (val_loss, e + 1, _snapshot(net))
        say(e + 1, epochs, f"{phase} epoch {e + 1}/{epochs}: train {train_loss:.5f}, val loss {val_loss:.5f}")
    return best


def train_poster(config: PosterTrainConfig, train: list[Sample], val: list[Sample], *, images: ImageCache,
                 device, progress=None, cancel=None) -> PosterTrainResult:
    """Train, select by validation loss, fine-tune, select again (see the module docstring)."""
    if not train or not val:
        raise ValueError("the poster protocol needs training images and validation images (it selects by "
                         "validation loss)")

    def say(done, total, msg):
        if progress is not None:
            progress(done, total, msg)

    torch.manual_seed(config.seed)
    net = KeypointNet(stage1_spec(backbone=config.backbone, head="regression", input_size=config.input_size),
                      pretrained=config.pretrained).to(device)
    train_cache = images.get(train, config.input_size, cancel)
    val_cache = images.get(val, config.input_size, cancel)
    history: list[dict] = []
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs, eta_min=0.02 * config.lr)
    loss, selected, weights = _phase(net, opt, sched, train_cache, val, val_cache, config, "train", config.epochs, 0,
                                     device, say, cancel, (math.inf, 0, _snapshot(net)), history)
    net.load_state_dict(weights)
    ft_epoch = 0
    if config.finetune_epochs:
        # A fresh optimizer at a constant, lower rate: the poster's "then fine-tuned" from the kept weights.
        opt = torch.optim.AdamW(net.parameters(), lr=config.lr * config.finetune_lr_factor,
                                weight_decay=config.weight_decay)
        loss, ft_epoch, weights = _phase(net, opt, None, train_cache, val, val_cache, config, "finetune",
                                         config.finetune_epochs, config.epochs, device, say, cancel,
                                         (loss, 0, weights), history)
        net.load_state_dict(weights)
    net.eval()
    return PosterTrainResult(net=net, history=history, selected_epoch=selected, finetune_epoch=ft_epoch,
                             val_loss=loss, pretrained=bool(net.pretrained_loaded))


def save_poster(path: Path, result: PosterTrainResult, meta: dict) -> Path:
    """The poster model as an app model file (stage 1 only; no crop stage)."""
    from hipvision.ml.checkpoint import ModelBundle, save_checkpoint
    from hipvision.ml.pipeline import PipelineOptions

    bundle = ModelBundle(stage1=result.net, stage2=None, options=PipelineOptions(), meta={
        **meta, "history": result.history, "selected_epoch": result.selected_epoch,
        "finetune_epoch": result.finetune_epoch, "val_loss": result.val_loss, "pretrained": result.pretrained,
        "protocol": "poster"})
    return save_checkpoint(path, bundle)
