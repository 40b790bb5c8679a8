"""The few-shot plan: budget from the number of corrected images, and what freeze / keep do."""

import pytest
import torch

from hipvision.ml.checkpoint import load_checkpoint
from hipvision.ml.few_shot import FEW_SHOT_MAX, phantom_samples, plan_for
from hipvision.ml.training import TrainConfig, train_keypoints
from hipvision.ml.training.freezing import frozen_modules


def test_the_plan_grows_with_the_images_and_turns_ordinary_above_the_few_shot_range():
    small, six, many = plan_for(3), plan_for(6), plan_for(FEW_SHOT_MAX + 1)
    assert small.few_shot and six.few_shot and not many.few_shot
    assert small.total_samples >= 100 and six.total_samples > small.total_samples
    assert six.freeze == "stem" and six.keep == "last" and six.phantoms > 0
    assert many.freeze == "none" and many.keep == "last" and many.total_samples <= 1500 + many.epochs
    assert "6 corrected images" in six.summary() and "stem frozen" in six.summary()
    with pytest.raises(ValueError):
        plan_for(0)


def test_phantom_samples_are_labelled_training_phantoms():
    ph = phantom_samples(2)
    assert len(ph) == 2 and all(s.source == "phantom" and s.split == "train" for s in ph)
    assert ph[0].image.ndim == 2 and ph[0].landmarks is not None


def test_a_frozen_stem_keeps_its_weights_and_statistics_and_keep_last_skips_validation(tmp_path, tiny_model,
                                                                                        phantom_samples):
    out = tmp_path / "ft.safetensors"
    cfg = TrainConfig(init_from=str(tiny_model.checkpoint), epochs=2, batch_size=4, min_samples_per_epoch=8,
                      lr=1e-2, freeze="stem", keep="last", output=str(out), threads=2)
    result = train_keypoints(cfg, phantom_samples)
    before, after = load_checkpoint(tiny_model.checkpoint), load_checkpoint(out)
    for stage in ("stage1", "stage2"):
        old_net, new_net = getattr(before, stage), getattr(after, stage)
        frozen = {id(m) for m in frozen_modules(new_net, "stem")}
        assert frozen, "the stem must be frozen"
        frozen_names = {n for n, m in new_net.named_modules() if id(m) in frozen}
        old_state, new_state = old_net.state_dict(), new_net.state_dict()
        changed = [k for k in new_state if not torch.equal(old_state[k], new_state[k])]
        assert changed, "the rest of the network must have learnt"
        # weights and BatchNorm running statistics of the stem are exactly the warm start's
        assert not [k for k in changed if any(k.startswith(n + ".") for n in frozen_names)]
    # keep="last": no validation pass ran, the last epoch is the model
    assert result.best_epoch == 2 and result.metrics["val_na_mae"] is None
    assert all(not k.startswith(("val_", "train_na")) for h in result.history for k in h)
