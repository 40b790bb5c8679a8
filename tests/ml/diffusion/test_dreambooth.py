"""DreamBooth LoRA end to end on a tiny Stable Diffusion assembled offline from configs."""

import json

import numpy as np
import pytest

from hipvision.core.store import Project
from hipvision.ml.diffusion.dreambooth import (
    BaseModelError,
    DreamBoothConfig,
    resolve_base_model,
    sample_dreambooth,
    train_dreambooth,
)
from hipvision.ml.diffusion.gate import Gate, GateConfig
from hipvision.ml.diffusion.generation import (
    GenerateConfig,
    GeneratorTrainConfig,
    generate_into_project,
    train_generator,
)

from .conftest import StandInPrediction
from .tiny_sd import make_tiny_sd


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return make_tiny_sd(tmp_path_factory.mktemp("sd") / "tiny-sd")


def test_lora_train_save_reload_sample(tiny_sd, tmp_path):
    rng = np.random.default_rng(0)
    inst = rng.uniform(0, 1, (3, 32, 32)).astype(np.float32)
    cfg = DreamBoothConfig(resolution=32, max_steps=2, learning_rate=5e-2, prior_preservation=True,
                           num_class_images=2, class_steps=2, checkpoint_every=1, seed=1)
    res = train_dreambooth(cfg, tiny_sd, inst, tmp_path / "db")
    assert res.steps == 2
    lora = tmp_path / "db" / "lora" / "pytorch_lora_weights.safetensors"
    from safetensors.torch import load_file

    keys = list(load_file(lora))
    assert keys and all("lora" in k for k in keys) and any("to_q" in k for k in keys)
    assert len(list((tmp_path / "db" / "class_images").glob("class-*.png"))) == 2
    meta = json.loads((tmp_path / "db" / "generator.json").read_text())
    assert meta["method"] == "dreambooth" and meta["base_model"] == str(tiny_sd.resolve())

    a = sample_dreambooth(tmp_path / "db", seeds=[5], out_resolution=48, steps=3)
    b = sample_dreambooth(tmp_path / "db", seeds=[5], out_resolution=48, steps=3)  # reloaded from disk
    assert a.shape == (1, 48, 48) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    # the LoRA changes what the base model draws
    import torch

    from hipvision.ml.diffusion.dreambooth import load_pipeline

    base = load_pipeline(tiny_sd, torch.device("cpu"))
    from diffusers import DDIMScheduler

    base.scheduler = DDIMScheduler.from_config(base.scheduler.config)
    plain = base(cfg.instance_prompt, num_inference_steps=3, guidance_scale=5.0, height=32, width=32,
                 generator=torch.Generator().manual_seed(5), output_type="np").images[0]
    import cv2

    plain = cv2.resize(plain.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32), (48, 48),
                       interpolation=cv2.INTER_CUBIC)
    assert np.abs(plain * 255 - a[0]).mean() > 0.5


def test_project_dreambooth_images_are_prelabelled(phantom_project, tiny_sd):
    cfg = GeneratorTrainConfig(project=phantom_project, method="dreambooth", base_model=str(tiny_sd),
                               dreambooth=DreamBoothConfig(resolution=32, max_steps=2, checkpoint_every=0))
    res = train_generator(cfg)
    assert res.path.name == "dreambooth"
    with Project.open(phantom_project, create=False) as p:
        lm = p.labelled(("train",), source="real")[0][1]
    gate = Gate(lambda im, mp: StandInPrediction(lm, {"left.head": 0.7}), GateConfig(), model_id="m1")
    report = generate_into_project(GenerateConfig(project=phantom_project, method="dreambooth", n=2, steps=2,
                                                  resolution=40), gate=gate)
    assert len(report.accepted) == 2
    with Project.open(phantom_project, create=False) as p:
        for iid in report.accepted:
            rec = p.image(iid)
            assert (rec.width, rec.height, rec.status, rec.split) == (40, 40, "predicted", "train")
            assert p.current_annotation(iid).author == "model:m1"


def test_base_model_comes_from_the_preferences(tiny_sd, tmp_path, monkeypatch):
    from hipvision.core.settings import AppSettings, save_settings

    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("HIPVISION_SD_MODEL", raising=False)
    save_settings(AppSettings(sd_base_dir=tiny_sd))
    assert resolve_base_model(None) == tiny_sd.resolve()


def test_missing_base_model_says_what_is_expected(tmp_path, monkeypatch):
    monkeypatch.delenv("HIPVISION_SD_MODEL", raising=False)
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "cfg"))
    with pytest.raises(BaseModelError, match="model_index.json") as e:
        resolve_base_model(None)
    assert "--base-model" in str(e.value)
    with pytest.raises(BaseModelError, match="not a folder"):
        resolve_base_model(tmp_path / "nope")
    (tmp_path / "sd").mkdir()
    with pytest.raises(BaseModelError, match=r"sd.*model_index.json missing"):
        resolve_base_model(tmp_path / "sd")
    (tmp_path / "sd" / "model_index.json").write_text("{}")
    with pytest.raises(BaseModelError, match="lacks unet/, vae/"):
        resolve_base_model(tmp_path / "sd")
