"""The heads: soft-argmax decodes a heatmap to the right sub-pixel point; the losses are sane."""

import math

import pytest
import torch

from hipvision.ml.model import KeypointNet, NetOutput, NetSpec, keypoint_loss, stage1_spec, stage2_spec


def test_soft_argmax_of_a_gaussian_heatmap_is_its_centre():
    """Feed the head a known heatmap (through a network whose head output we replace)."""
    spec = stage2_spec(backbone="test_resnet", input_size=64, channels=8)
    net = KeypointNet(spec).eval()
    target = torch.tensor([[[21.3, 40.7], [46.2, 17.6]]])  # input pixels, away from the border

    def fake_head(feats):
        h = w = 16
        s = 64 / 16
        xs = (torch.arange(w) + 0.5) * s - 0.5
        ys = (torch.arange(h) + 0.5) * s - 0.5
        logits = []
        for k in range(2):
            tx, ty = target[0, k]
            logits.append(-((xs[None, :] - tx) ** 2 + (ys[:, None] - ty) ** 2) / (2 * (1.2 * s) ** 2))
        lg = torch.stack(logits)[None]
        rmap = torch.full((1, 1, h, w), 5.0)
        return lg, rmap

    net.head.forward = fake_head
    with torch.no_grad():
        out = net(torch.zeros(1, 1, 64, 64))
    assert torch.allclose(out.points, target, atol=0.05)
    assert out.radii.item() == pytest.approx(5.0 * 4.0)  # radius map (cells) times stride
    assert out.spread[0, 0].item() == pytest.approx(1.2 * math.sqrt(2), rel=0.1)


def test_loss_is_zero_ish_at_the_target_and_grows_away_from_it():
    spec = stage2_spec(backbone="test_resnet", input_size=64, channels=8)
    pts = torch.tensor([[[20.0, 30.0], [40.0, 12.0]]])
    out = NetOutput(points=pts.clone(), radii=torch.tensor([[10.0]]), stride=(4.0, 4.0),
                    logits=torch.zeros(1, 2, 16, 16), extras={"probs": torch.full((1, 2, 16, 16), 1 / 256)})
    near, _ = keypoint_loss(out, spec, pts, torch.tensor([[10.0]]))
    far, parts = keypoint_loss(out, spec, pts + 8.0, torch.tensor([[14.0]]))
    assert far > near
    assert parts["coord"] == pytest.approx(4.0)  # 8 px = 2 cells in x and y, summed
    # a flat heatmap is far from the target Gaussian; one peaked at the target is close
    c = torch.arange(16) * 4.0 + 1.5  # cell centres in input pixels
    peaked = torch.stack([-((c[None, :] - x) ** 2 + (c[:, None] - y) ** 2) / (2 * 4.0**2) for x, y in pts[0]])[None]
    tight, tparts = keypoint_loss(NetOutput(points=pts.clone(), radii=torch.tensor([[10.0]]), stride=(4.0, 4.0),
                                            logits=peaked, extras={}), spec, pts, torch.tensor([[10.0]]))
    assert tparts["kl"] < 0.01 < parts["kl"]


def test_regression_loss_is_mse_of_normalised_coordinates():
    spec = stage2_spec(backbone="test_resnet", head="regression", input_size=64)
    out = NetOutput(points=torch.zeros(1, 2, 2), radii=torch.zeros(1, 1))
    loss, parts = keypoint_loss(out, spec, torch.full((1, 2, 2), 32.0), torch.zeros(1, 1))
    assert parts["coord"] == pytest.approx(0.25)


@pytest.mark.parametrize("bad,match", [
    (dict(head="transformer"), "head"),
    (dict(input_size=100), "input_size"),
    (dict(max_stride=4), "max_stride"),
    (dict(radius_of=(5,)), "radius_of"),
])
def test_spec_validation_names_the_field(bad, match):
    kw = dict(points=("head", "rim"), radii=("radius",), radius_of=(0,), backbone="test_resnet") | bad
    with pytest.raises(ValueError, match=match):
        NetSpec(**kw)


def test_spec_round_trips_through_a_dict():
    s = stage1_spec(backbone="test_resnet", input_size=128)
    assert NetSpec.from_dict(s.to_dict()) == s
