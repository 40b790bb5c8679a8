"""The backbone zoo: named ImageNet CNNs that return a feature pyramid for the keypoint heads.

The poster screened 18 ImageNet backbones; this zoo holds those families and a few more.
All come from timm except SqueezeNet, which timm does not carry: it comes from torchvision
(wrapped to the same pyramid interface). Every backbone takes one grayscale channel (timm
folds the RGB stem weights into one channel when pretrained weights load).

Pretrained weights: fetched by timm when the model hub is reachable; offline
(HIPVISION_OFFLINE=1 / HF_HUB_OFFLINE=1, or the hub unreachable within a few seconds) the
local cache is used when it holds the weights, otherwise a one-line notice is logged and
the backbone starts from random initialisation. Nothing here waits more than a few seconds
on the network.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger("hipvision.ml")


@dataclass(frozen=True)
class ZooEntry:
    name: str  # what users type: `--backbone NAME`
    source: str  # "timm" | "torchvision"
    family: str
    note: str = ""
    min_size: int = 32  # smallest input side that runs (tests use it)


ZOO: dict[str, ZooEntry] = {e.name: e for e in [
    ZooEntry("resnet18", "timm", "ResNet", "default: best accuracy/latency on CPU"),
    ZooEntry("resnet34", "timm", "ResNet"),
    ZooEntry("resnet50", "timm", "ResNet"),
    ZooEntry("resnet101", "timm", "ResNet"),
    ZooEntry("resnext50_32x4d", "timm", "ResNeXt"),
    ZooEntry("wide_resnet50_2", "timm", "Wide ResNet"),
    ZooEntry("densenet121", "timm", "DenseNet"),
    ZooEntry("densenet161", "timm", "DenseNet"),
    ZooEntry("efficientnet_b0", "timm", "EfficientNet"),
    ZooEntry("efficientnet_b3", "timm", "EfficientNet"),
    ZooEntry("efficientnetv2_rw_s", "timm", "EfficientNetV2"),
    ZooEntry("mobilenetv2_100", "timm", "MobileNetV2"),
    ZooEntry("mobilenetv3_large_100", "timm", "MobileNetV3"),
    ZooEntry("mnasnet_100", "timm", "MnasNet"),
    ZooEntry("ghostnet_100", "timm", "GhostNet"),
    ZooEntry("regnety_008", "timm", "RegNet"),
    ZooEntry("vgg16_bn", "timm", "VGG"),
    ZooEntry("inception_v3", "timm", "Inception", min_size=75),
    ZooEntry("xception41", "timm", "Xception"),
    ZooEntry("convnext_tiny", "timm", "ConvNeXt"),
    ZooEntry("dla34", "timm", "DLA"),
    ZooEntry("hrnet_w18_small", "timm", "HRNet"),
    ZooEntry("squeezenet1_1", "torchvision", "SqueezeNet", "torchvision (timm has no SqueezeNet)"),
]}

# Tiny random timm models for tests; not offered to users.
TEST_BACKBONES = ("test_resnet", "test_efficientnet")

DEFAULT_BACKBONE = "resnet18"


class BackboneError(ValueError):
    pass


def check_backbone_name(name: str) -> None:
    if name not in ZOO and name not in TEST_BACKBONES:
        raise BackboneError(f"unknown backbone {name!r}; choose one of: {', '.join(ZOO)}")


# ---------------------------------------------------------------------------- network access

def offline_by_setting() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HIPVISION_OFFLINE", "HF_HUB_OFFLINE"))


_REACHABLE: dict[str, bool] = {}
_NOTIFIED: set[str] = set()


def _notice(msg: str, key: str) -> None:
    """Log a notice once per process (two stages share a backbone: one line, not two)."""
    if key not in _NOTIFIED:
        _NOTIFIED.add(key)
        log.warning(msg)


def host_reachable(host: str, timeout: float = 3.0) -> bool:
    """One TCP connect with a short time-out, remembered per process: the hub client's own
    retries take ~45 s to give up on a machine without network."""
    if host not in _REACHABLE:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                _REACHABLE[host] = True
        except OSError:
            _REACHABLE[host] = False
    return _REACHABLE[host]


def _cached_timm_weights(model_name: str) -> Path | None:
    """The pretrained file of a timm model if the Hugging Face cache already holds it."""
    try:
        import timm
        from huggingface_hub import try_to_load_from_cache

        cfg = timm.models.get_pretrained_cfg(model_name)
        hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        if not hub_id:
            return None
        repo, _, rev = hub_id.partition("@")
        for fname in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
            p = try_to_load_from_cache(repo, fname, revision=rev or None)
            if isinstance(p, str) and Path(p).is_file():
                return Path(p)
    except Exception:  # noqa: BLE001 - a cache lookup must never break model building
        return None
    return None


# ---------------------------------------------------------------------------- building

class _TorchvisionSqueezeNet(nn.Module):
    """SqueezeNet 1.1 features as a pyramid at strides ~4, 8, 16 (after the 2nd, 4th, 8th fire)."""

    def __init__(self, pretrained: bool):
        super().__init__()
        import torchvision

        net = torchvision.models.squeezenet1_1(weights=None)
        if pretrained:
            sd = _torchvision_squeezenet_weights()
            if sd is not None:
                net.load_state_dict(sd)
                self.pretrained_loaded = True
        conv = net.features[0]
        gray = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)
        with torch.no_grad():
            gray.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
            gray.bias.copy_(conv.bias)
        net.features[0] = gray
        self.features = net.features
        self.taps = (4, 7, 12)
        self.channels = [128, 256, 512]
        self.reductions = [4, 8, 16]

    def forward(self, x):
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out


def _torchvision_squeezenet_weights():
    import torchvision

    weights = torchvision.models.SqueezeNet1_1_Weights.IMAGENET1K_V1
    fname = Path(weights.url).name
    cached = Path(torch.hub.get_dir()) / "checkpoints" / fname
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    if offline_by_setting() or not host_reachable("download.pytorch.org"):
        _notice("offline: no ImageNet weights for squeezenet1_1 on this machine; starting from random initialisation",
                "offline:squeezenet1_1")
        return None
    try:
        return weights.get_state_dict(progress=False)
    except Exception as exc:  # noqa: BLE001
        _notice(f"could not download ImageNet weights for squeezenet1_1 ({exc}); starting from random initialisation",
                "fetch:squeezenet1_1")
        return None


class Backbone(nn.Module):
    """A feature pyramid: forward(x) -> list of maps at increasing stride (first ~4)."""

    def __init__(self, name: str, *, max_stride: int = 16, pretrained: bool = False):
        super().__init__()
        check_backbone_name(name)
        self.name = name
        self.pretrained_loaded = False
        if name in ZOO and ZOO[name].source == "torchvision":
            net = _TorchvisionSqueezeNet(pretrained)
            self.pretrained_loaded = getattr(net, "pretrained_loaded", False)
            keep = [i for i, r in enumerate(net.reductions) if r <= max_stride]
            self.net = net
            self._select = keep
            self.channels = [net.channels[i] for i in keep]
            self.reductions = [net.reductions[i] for i in keep]
        else:
            import timm

            with torch.device("meta"):  # just the feature layout: no allocation, no init
                info = timm.create_model(name, features_only=True, pretrained=False, in_chans=1).feature_info
            # All levels (not only the default out_indices, which skip some levels for DLA/VGG).
            reds = [int(d["reduction"]) for d in info.info]
            # Finest map at stride >= 4 (stride-2 maps cost a lot and add little), up to max_stride.
            idx = [i for i, r in enumerate(reds) if 4 <= r <= max_stride]
            if not idx:
                raise BackboneError(f"backbone {name!r} has no feature maps between stride 4 and {max_stride}")
            self.net = self._create_timm(name, idx, pretrained)
            self._select = list(range(len(idx)))
            # read back from the built net: some models (DLA) change channels with out_indices
            self.channels = list(self.net.feature_info.channels())
            self.reductions = list(self.net.feature_info.reduction())

    def _create_timm(self, name: str, idx: list[int], pretrained: bool) -> nn.Module:
        import timm

        kw = dict(features_only=True, out_indices=tuple(idx), in_chans=1)
        if not pretrained:
            return timm.create_model(name, pretrained=False, **kw)
        cached = _cached_timm_weights(name)
        if cached is not None:
            try:
                net = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}, **kw)
                self.pretrained_loaded = True
                return net
            except Exception as exc:  # noqa: BLE001
                log.warning("cached ImageNet weights for %s did not load (%s)", name, exc)
        if offline_by_setting() or not host_reachable("huggingface.co"):
            _notice(f"offline: no ImageNet weights for {name} on this machine; starting from random initialisation",
                    f"offline:{name}")
            return timm.create_model(name, pretrained=False, **kw)
        try:
            net = timm.create_model(name, pretrained=True, **kw)
            self.pretrained_loaded = True
            return net
        except Exception as exc:  # noqa: BLE001 - any hub failure falls back to random init
            _notice(f"could not fetch ImageNet weights for {name} ({str(exc).splitlines()[0][:160]}); "
                    "starting from random initialisation", f"fetch:{name}")
            return timm.create_model(name, pretrained=False, **kw)

    def forward(self, x):
        feats = self.net(x)
        return [feats[i] for i in self._select]
