import numpy as np
import pytest
import torch
from diffusers import UNet2DModel

from hipvision.core.jobs import Cancelled, CancelToken
from hipvision.ml.diffusion.sampling import sample_images
from hipvision.ml.diffusion.unet_layouts import unet_config

SCHED = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon",
         "clip_sample": True}


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return UNet2DModel(**unet_config(32, 4, 1, "tiny")).eval()


@pytest.mark.parametrize("scheduler,steps", [("ddim", 4), ("ddpm", 6)])
def test_each_image_is_reproducible_from_its_own_seed(unet, scheduler, steps):
    conds = np.random.default_rng(0).uniform(0, 1, (3, 3, 32, 32)).astype(np.float32)
    seen = []
    batch = sample_images(unet, SCHED, seeds=[11, 12, 13], scheduler=scheduler, steps=steps, conds=conds,
                          batch_size=3, on_image=lambda i, im: seen.append(i))
    alone = sample_images(unet, SCHED, seeds=[13], scheduler=scheduler, steps=steps, conds=conds[2:], batch_size=1)
    assert batch.shape == (3, 32, 32) and batch.dtype == np.uint8 and seen == [0, 1, 2]
    # the same image whatever the batch (up to float rounding of batched kernels)
    assert np.abs(batch[2].astype(int) - alone[0]).max() <= 2
    assert np.abs(batch[0].astype(int) - batch[1]).mean() > 5  # different seeds, different images


def test_guidance_uses_the_condition(unet):
    conds = np.zeros((1, 3, 32, 32), np.float32)
    other = np.ones((1, 3, 32, 32), np.float32)
    a = sample_images(unet, SCHED, seeds=[1], steps=3, conds=conds, guidance=3.0)
    b = sample_images(unet, SCHED, seeds=[1], steps=3, conds=other, guidance=3.0)
    assert np.abs(a.astype(int) - b).mean() > 1


def test_cancel_stops_between_steps(unet):
    token = CancelToken()
    calls = []

    def progress(done, total, msg):
        calls.append(done)
        if done >= 2:
            token.set()

    with pytest.raises(Cancelled):
        sample_images(unet, SCHED, seeds=[1, 2], steps=50, conds=np.zeros((2, 3, 32, 32), np.float32),
                      progress=progress, cancel=token, batch_size=1)
    assert max(calls) < 50


def test_wrong_condition_channels_are_refused(unet):
    with pytest.raises(ValueError, match="condition channels"):
        sample_images(unet, SCHED, seeds=[1], steps=2)
