"""Every zoo backbone builds (random init) and runs one forward pass of both heads' networks."""

import time

import pytest
import torch

from hipvision.ml.model import KeypointNet, stage2_spec
from hipvision.ml.zoo import ZOO, Backbone, BackboneError, check_backbone_name

# Large backbones get the smallest input they accept: this test is about wiring, not accuracy.
BIG = {"densenet161", "wide_resnet50_2", "resnet101", "vgg16_bn", "xception41", "efficientnetv2_rw_s",
       "convnext_tiny", "inception_v3", "resnext50_32x4d", "resnet50"}


def test_zoo_has_at_least_18_imagenet_backbones_including_the_posters_families():
    assert len(ZOO) >= 18
    families = {e.family for e in ZOO.values()}
    assert {"EfficientNet", "DenseNet", "ResNet", "SqueezeNet", "VGG", "Inception", "MobileNetV2"} <= families
    assert "densenet161" in ZOO and ZOO["squeezenet1_1"].source == "torchvision"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_backbone_builds_and_runs_forward(name):
    torch.manual_seed(0)
    size = 96 if name in BIG else 64
    net = KeypointNet(stage2_spec(backbone=name, input_size=size, channels=16), pretrained=False).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 1, size, size))
    assert out.points.shape == (1, 2, 2) and out.radii.shape == (1, 1)
    assert torch.isfinite(out.points).all()
    # soft-argmax keeps points inside the input
    assert (out.points >= -0.5).all() and (out.points <= size - 0.5).all()
    assert net.backbone.reductions[0] >= 4 and max(net.backbone.reductions) <= 16


def test_regression_head_builds_and_runs():
    net = KeypointNet(stage2_spec(backbone="resnet18", head="regression", input_size=64), pretrained=False).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 1, 64, 64))
    assert out.points.shape == (2, 2, 2) and out.spread is None


def test_unknown_backbone_is_named_in_the_error():
    with pytest.raises(BackboneError, match="resnet9000"):
        check_backbone_name("resnet9000")


def test_pretrained_offline_falls_back_to_random_init_quickly(monkeypatch, caplog):
    monkeypatch.setenv("HIPVISION_OFFLINE", "1")
    t0 = time.monotonic()
    with caplog.at_level("WARNING", logger="hipvision.ml"):
        bb = Backbone("test_efficientnet", pretrained=True)
    assert time.monotonic() - t0 < 10
    assert not bb.pretrained_loaded
