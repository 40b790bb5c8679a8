"""train_keypoints: loss falls, seeds reproduce, cancel/resume/warm start work, files are whole."""

import json
from dataclasses import replace

import pytest
import torch

from hipvision.core.jobs import Cancelled, CancelToken
from hipvision.ml.checkpoint import read_sidecar
from hipvision.ml.data import AugmentConfig
from hipvision.ml.training import TrainConfig, train_keypoints
from tests.ml.conftest import TINY


def _cfg(tmp_path, **kw):
    base = dict(TINY, epochs=1, batch_size=4, output=str(tmp_path / "m.safetensors"))
    return TrainConfig(**(base | kw))


def test_loss_falls_when_fitting_a_few_phantoms(tmp_path, phantom_samples):
    cfg = _cfg(tmp_path, epochs=6, min_samples_per_epoch=16, lr=3e-3, augment=AugmentConfig.off(), patience=0)
    result = train_keypoints(cfg, phantom_samples[:2] + phantom_samples[8:9])
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.epochs_run == 6 and result.checkpoint.is_file()


def test_same_seed_same_run(tmp_path, phantom_samples):
    a = train_keypoints(_cfg(tmp_path, output=str(tmp_path / "a.safetensors")), phantom_samples)
    b = train_keypoints(_cfg(tmp_path, output=str(tmp_path / "b.safetensors")), phantom_samples)
    assert a.history[0]["loss"] == b.history[0]["loss"]
    assert a.metrics["val_na_mae"] == b.metrics["val_na_mae"]


def test_metrics_callback_gets_each_epoch_and_the_sidecar_says_what_was_trained(tmp_path, phantom_samples):
    seen = []
    r = train_keypoints(_cfg(tmp_path, epochs=2, trained_on="phantoms"), phantom_samples,
                        metrics=lambda e, v: seen.append((e, v)))
    assert [e for e, _ in seen] == [1, 2]
    assert {"loss", "val_na_mae", "val_na_mape", "val_within_5"} <= set(seen[0][1])
    meta = read_sidecar(r.checkpoint)
    assert meta["trained_on"] == "phantoms"
    assert meta["stage1"]["backbone"] == "test_resnet" and meta["stage2"]["input_size"] == 64
    assert meta["data_summary"]["by_split"] == {"train": {"real": 8}, "val": {"real": 2}}
    assert meta["metrics"]["val_na_mae"] == r.metrics["val_na_mae"]
    assert meta["hipvision_version"]


def test_cancel_raises_and_leaves_no_model_file(tmp_path, phantom_samples):
    token = CancelToken()
    calls = []

    def progress(done, total, msg):
        calls.append(msg)
        if msg.startswith("epoch"):
            token.set()

    cfg = _cfg(tmp_path)
    with pytest.raises(Cancelled):
        train_keypoints(cfg, phantom_samples, progress=progress, cancel=token)
    assert not (tmp_path / "m.safetensors").exists() and not (tmp_path / "m.json").exists()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_resume_continues_after_the_last_finished_epoch(tmp_path, phantom_samples):
    token = CancelToken()

    def stop_in_epoch_2(done, total, msg):
        if msg.startswith("epoch 2/"):
            token.set()

    cfg = _cfg(tmp_path, epochs=2)
    with pytest.raises(Cancelled):
        train_keypoints(cfg, phantom_samples, progress=stop_in_epoch_2, cancel=token)
    state = tmp_path / "m.state.pt"
    assert state.is_file()  # epoch 1's state survived the cancel, whole
    resumed = train_keypoints(replace(cfg, resume=True), phantom_samples)
    straight = train_keypoints(replace(cfg, output=str(tmp_path / "s.safetensors")), phantom_samples)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[0]["loss"] == straight.history[0]["loss"]
    assert resumed.history[1]["loss"] == pytest.approx(straight.history[1]["loss"], rel=1e-4)
    assert not state.exists()  # a finished run removes its state


def test_warm_start_uses_the_checkpoint_architecture_and_weights(tmp_path, tiny_model, phantom_samples):
    from hipvision.ml.checkpoint import load_checkpoint

    # A learning rate so small the weights cannot move: what comes out is what went in.
    r = train_keypoints(_cfg(tmp_path, init_from=str(tiny_model.checkpoint), backbone="resnet18", lr=1e-9,
                             weight_decay=0.0), phantom_samples)
    meta = read_sidecar(r.checkpoint)
    assert meta["stage1"]["backbone"] == "test_resnet"
    assert meta["warm_start"] == str(tiny_model.checkpoint)
    warm, out = load_checkpoint(tiny_model.checkpoint), load_checkpoint(r.checkpoint)
    for stage in ("stage1", "stage2"):
        before = dict(getattr(warm, stage).named_parameters())
        for name, p in getattr(out, stage).named_parameters():
            assert torch.allclose(p, before[name], atol=1e-6), (stage, name)


def test_regression_head_trains(tmp_path, phantom_samples):
    r = train_keypoints(_cfg(tmp_path, head="regression"), phantom_samples)
    assert json.loads(r.checkpoint.with_suffix(".json").read_text())["stage2"]["head"] == "regression"


def test_no_training_images_is_a_clear_error(tmp_path, phantom_samples):
    with pytest.raises(ValueError, match="no labelled images in the training split"):
        train_keypoints(_cfg(tmp_path), [s for s in phantom_samples if s.split == "val"])


@pytest.mark.parametrize("bad,match", [
    (dict(epochs=0), "epochs"), (dict(input_size=100), "input_size"), (dict(lr=-1.0), "lr"),
    (dict(backbone="nope"), "nope"), (dict(head="mlp"), "head"), (dict(output="x.pt"), "output"),
    (dict(crop_factor=50.0), "crop_factor"),
])
def test_config_errors_name_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_trains_from_a_phantom_folder(tmp_path, phantom_folder):
    r = train_keypoints(_cfg(tmp_path), phantom_folder)
    assert read_sidecar(r.checkpoint)["trained_on"] == "phantoms"


def test_epoch_plan_holds_the_synthetic_share_and_ends_on_real_images():
    from hipvision.ml.training.samples import epoch_plan

    flags = [False] * 2 + [True] * 6  # 2 real, 6 synthetic
    assert epoch_plan(flags, 16, 0, 4, None, 1.0) is None  # default: plain cycle over all images
    assert epoch_plan([False] * 3, 16, 0, 4, 0.5, 0.5) is None  # nothing synthetic: nothing to plan
    seen = set()
    for epoch in range(2):  # the first half of 4 epochs uses synthetic images, half of every epoch
        plan = epoch_plan(flags, 16, epoch, 4, 0.5, 0.5)
        assert len(plan) == 16 and sum(k >= 2 for k in plan) == 8
        assert plan.count(0) == plan.count(1) == 4  # the real images share their half evenly
        seen |= {k for k in plan if k >= 2}
    assert seen == set(range(2, 8))  # every synthetic image is used
    for epoch in (2, 3):  # then fine-tuning on real images only
        assert set(epoch_plan(flags, 16, epoch, 4, 0.5, 0.5)) == {0, 1}
    assert set(epoch_plan(flags, 16, 3, 4, None, 0.75)) == {0, 1}


def test_training_reads_synthetic_images_only_in_their_epochs(tmp_path, phantom_samples, monkeypatch):
    import hipvision.ml.training.steps as train_mod

    real = [s for s in phantom_samples if s.split == "train"][:2]
    syn = [replace(s, name=f"syn-{i}", source="synthetic") for i, s in enumerate(phantom_samples[2:6])]
    val = [s for s in phantom_samples if s.split == "val"]
    import hipvision.ml.data as data_mod

    reads, datasets = [], []
    real_example = data_mod.stage1_example

    class Spy(train_mod.KeypointDataset):  # only remembers the dataset, so we know its epoch and cache
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            datasets.append(self)

    def spy_example(c, *a, **kw):  # which cached image the training sample was really made from
        ds = datasets[-1]
        reads.append((ds.epoch, next(i for i, x in enumerate(ds.cache) if x is c)))
        return real_example(c, *a, **kw)

    monkeypatch.setattr(train_mod, "KeypointDataset", Spy)
    monkeypatch.setattr(data_mod, "stage1_example", spy_example)
    r = train_keypoints(_cfg(tmp_path, epochs=2, min_samples_per_epoch=8, synthetic_share=0.75, synthetic_until=0.5,
                             patience=0), real + syn + val)
    first = [k for e, k in reads if e == 0]
    second = [k for e, k in reads if e == 1]
    assert sum(k >= 2 for k in first) == 6 and len(first) == 8  # 3/4 synthetic in epoch 1
    assert second and all(k < 2 for k in second)  # epoch 2 fine-tunes on the real images
    assert read_sidecar(r.checkpoint)["train_config"]["synthetic_until"] == 0.5
    with pytest.raises(ValueError, match="synthetic_share"):
        TrainConfig(synthetic_share=1.5)


def test_the_config_default_backbone_is_the_zoo_default():
    from hipvision.ml.training.config import DEFAULT_BACKBONE
    from hipvision.ml.zoo import DEFAULT_BACKBONE as ZOO_DEFAULT

    assert DEFAULT_BACKBONE == ZOO_DEFAULT == TrainConfig().backbone


def test_a_warm_start_keeps_its_pelvis_framed_stage1_untouched(tmp_path, tiny_model, phantom_samples):
    import copy

    from hipvision.ml.checkpoint import load_checkpoint, save_checkpoint

    warm = load_checkpoint(tiny_model.checkpoint)
    warm.framed = copy.deepcopy(warm.stage1)
    with torch.no_grad():
        for p in warm.framed.parameters():
            p.mul_(0.5)
    with_framed = save_checkpoint(tmp_path / "warm.safetensors", warm)
    r = train_keypoints(_cfg(tmp_path, init_from=str(with_framed), lr=1e-2), phantom_samples)
    out = load_checkpoint(r.checkpoint)
    assert out.framed is not None
    for (name, p), (_, q) in zip(out.framed.named_parameters(), warm.framed.named_parameters()):
        assert torch.equal(p, q), name  # carried over, not trained
    assert not all(torch.equal(p, q) for p, q in zip(out.stage1.parameters(), warm.stage1.parameters()))
