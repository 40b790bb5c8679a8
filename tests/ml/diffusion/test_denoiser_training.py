"""The shared denoiser loop: it learns, it checkpoints, a resumed run equals an uninterrupted one."""

import json

import numpy as np
import pytest
import torch

from hipvision.core.jobs import Cancelled
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig, load_unet, train_denoiser

CFG = DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=4, epochs=2, warmup_steps=1,
                          checkpoint_every=2, ema=True, seed=7)


def _data(n=10):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    x = np.stack([np.where(np.hypot(xx - rng.uniform(8, 24), yy - rng.uniform(8, 24)) < 6, 1.0, -1.0)
                  for _ in range(n)])[:, None].astype(np.float32)
    return x, rng.uniform(0, 1, (n, 4, 32, 32)).astype(np.float32)


def _weights(path):
    unet, _ = load_unet(path)
    return torch.cat([p.detach().flatten() for p in unet.parameters()])


class CancelAfter:
    def __init__(self, steps):
        self.steps, self.seen = steps, 0

    def progress(self, done, total, msg):
        self.seen = done

    def is_set(self):
        return self.seen >= self.steps


def test_resume_after_cancel_equals_an_uninterrupted_run(tmp_path):
    x, c = _data()
    straight = train_denoiser(CFG, x, c, tmp_path / "a", {"method": "conditional"})
    assert straight.steps == 6 and straight.resumed_from == 0  # 2 epochs x ceil(10/4)
    token = CancelAfter(3)
    with pytest.raises(Cancelled):
        train_denoiser(CFG, x, c, tmp_path / "b", {"method": "conditional"}, progress=token.progress, cancel=token)
    assert not (tmp_path / "b" / "generator.json").exists()  # no half-finished generator
    assert (tmp_path / "b" / "checkpoints" / "step-00000003" / "state.json").is_file()
    resumed = train_denoiser(CFG, x, c, tmp_path / "b", {"method": "conditional"})
    assert resumed.resumed_from == 3 and resumed.steps == 6
    assert torch.allclose(_weights(tmp_path / "a"), _weights(tmp_path / "b"), atol=1e-6)
    meta = json.loads((tmp_path / "b" / "generator.json").read_text())
    assert meta["method"] == "conditional" and meta["trained_steps"] == 6 and meta["condition_channels"] == 4
    assert len(list((tmp_path / "b" / "checkpoints").glob("step-*"))) <= CFG.keep_checkpoints


def test_training_reduces_the_loss(tmp_path):
    x, _ = _data(16)
    first = train_denoiser(DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=8, max_steps=2,
                                               warmup_steps=1, checkpoint_every=0, ema=False), x, None,
                           tmp_path / "g", {"method": "ddpm"})
    more = train_denoiser(DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=8, max_steps=60,
                                              warmup_steps=1, checkpoint_every=0, ema=False, learning_rate=2e-3),
                          x, None, tmp_path / "g", {"method": "ddpm"})
    assert more.resumed_from == 2
    assert more.final_loss < 0.6 * first.final_loss


@pytest.mark.parametrize("kw,field", [(dict(resolution=48), "resolution"), (dict(batch_size=0), "batch_size"),
                                      (dict(learning_rate=2.0), "learning_rate"), (dict(cond_drop=1.0), "cond_drop"),
                                      (dict(mixed_precision="fp8"), "mixed_precision"),
                                      (dict(beta_schedule="cosine"), "beta_schedule")])
def test_config_validation_names_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        DenoiserTrainConfig(**kw)


def test_layout_change_is_not_resumed_silently(tmp_path):
    x, c = _data()
    train_denoiser(CFG, x, c, tmp_path / "g", {})
    with pytest.raises(ValueError, match="another UNet layout"):
        train_denoiser(DenoiserTrainConfig(resolution=32, unet_size="small", batch_size=4, epochs=3), x, c,
                       tmp_path / "g", {})
