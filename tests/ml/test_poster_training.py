"""The poster's training protocol: kept by validation LOSS (not NA MAE), then fine-tuned; its
single network predicts on the whole letterboxed image."""

import numpy as np
import pytest
import torch

from hipvision.ml import poster_training
from hipvision.ml.checkpoint import load_checkpoint
from hipvision.ml.model import NetOutput, stage1_spec
from hipvision.ml.poster_training import ImageCache, PosterTrainConfig, measure, save_poster, train_poster
from hipvision.ml.transforms import Letterbox

TINY = dict(backbone="test_resnet", input_size=64, batch_size=4, pretrained=False, lr=3e-3)


def _scripted(monkeypatch, script):
    """validation_numbers answers from `script` [(val loss, val NA MAE)] and keeps the weights
    it was shown, so a test can tell which epoch's weights were kept."""
    seen = []

    def fake(net, val, cache, device):
        seen.append({k: v.detach().clone() for k, v in net.state_dict().items()})
        loss, na = script[len(seen) - 1]
        return loss, {"na_mae": na, "na_mape": na}

    monkeypatch.setattr(poster_training, "validation_numbers", fake)
    return seen


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k].float(), b[k].float()) for k in a)


def test_kept_epoch_is_the_lowest_validation_loss_not_the_lowest_na_error(monkeypatch, phantom_samples, tmp_path):
    # main phase: loss lowest at epoch 2, NA MAE lowest at epoch 3; fine-tune: loss lowest at its epoch 2
    seen = _scripted(monkeypatch, [(0.5, 3.0), (0.2, 5.0), (0.4, 1.0), (0.3, 0.5), (0.1, 9.0)])
    train = [s for s in phantom_samples if s.split == "train"]
    val = [s for s in phantom_samples if s.split == "val"]
    res = train_poster(PosterTrainConfig(**TINY, epochs=3, finetune_epochs=2), train, val, images=ImageCache(),
                       device=torch.device("cpu"))
    assert (res.selected_epoch, res.finetune_epoch, res.val_loss) == (2, 2, 0.1)
    assert [h["phase"] for h in res.history] == ["train"] * 3 + ["finetune"] * 2
    assert [h["val_na_mae"] for h in res.history] == [3.0, 5.0, 1.0, 0.5, 9.0]  # recorded, never chosen by
    assert _same(res.net.state_dict(), seen[4])  # the fine-tune's epoch 2 weights
    # the fine-tune started from the main phase's epoch 2 (not its last epoch): its first epoch
    # moved away from those, so they differ from epoch 3's
    assert not _same(seen[1], seen[2])
    ck = save_poster(tmp_path / "m.safetensors", res, {"model_id": "m"})
    back = load_checkpoint(ck)
    assert back.stage2 is None and back.meta["selected_epoch"] == 2 and back.meta["protocol"] == "poster"
    assert _same(back.stage1.state_dict(), seen[4])


def test_a_fine_tune_that_only_overfits_keeps_the_selected_weights(monkeypatch, phantom_samples):
    seen = _scripted(monkeypatch, [(0.4, 2.0), (0.2, 2.0), (0.3, 0.1), (0.25, 0.1)])
    train = [s for s in phantom_samples if s.split == "train"]
    val = [s for s in phantom_samples if s.split == "val"]
    res = train_poster(PosterTrainConfig(**TINY, epochs=2, finetune_epochs=2), train, val, images=ImageCache(),
                       device=torch.device("cpu"))
    assert (res.selected_epoch, res.finetune_epoch, res.val_loss) == (2, 0, 0.2)
    assert _same(res.net.state_dict(), seen[1])


class _Oracle(torch.nn.Module):
    """Answers the true landmarks of one image, in letterboxed input pixels."""

    def __init__(self, sample, size):
        super().__init__()
        self.spec = stage1_spec(backbone="test_resnet", head="regression", input_size=size)
        hips = sample.image_order()
        h, w = np.asarray(sample.image).shape
        lb = Letterbox(h, w, size).affine
        pts = lb.apply(np.array([hips[0, :2], hips[1, :2], hips[0, 3:5], hips[1, 3:5]]))
        self.pts = torch.tensor(pts, dtype=torch.float32)[None]
        self.rad = torch.tensor(hips[:, 2] * lb.scale, dtype=torch.float32)[None]

    def forward(self, x):
        return NetOutput(points=self.pts.expand(len(x), -1, -1), radii=self.rad.expand(len(x), -1))


@pytest.mark.parametrize("size", [64, 128])
def test_predictions_map_from_the_letterboxed_input_back_to_the_radiograph(phantom_samples, size):
    s = phantom_samples[0]
    cache = ImageCache().get([s], size)
    m = measure(_Oracle(s, size), [s], cache, torch.device("cpu"))
    assert m["hips"] == 2
    # float32 network outputs: exact to a thousandth of a pixel
    assert m["na_mae"] < 1e-3 and m["head_err_px"] < 1e-3 and m["rim_err_px"] < 1e-3 and m["radius_err_px"] < 1e-3


def test_bad_settings_name_the_field():
    with pytest.raises(ValueError, match="input_size"):
        PosterTrainConfig(input_size=100)
    with pytest.raises(ValueError, match="finetune_epochs"):
        PosterTrainConfig(finetune_epochs=-1)
