"""The experiment's sampled-image cache: keyed by the weights' tensors, read back exactly."""

import numpy as np
import torch
from safetensors.torch import save_file

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.ml.diffusion.conditional import LabelledSynthetic
from hipvision.ml.synthetic_cache import load_synthetic, save_synthetic, weights_digest


def test_weights_digest_sees_tensors_not_file_layout(tmp_path):
    a, b = torch.arange(6, dtype=torch.float32).reshape(2, 3), torch.ones(4, dtype=torch.float16)
    save_file({"a": a, "b": b}, str(tmp_path / "1.safetensors"))
    save_file({"b": b, "a": a}, str(tmp_path / "2.safetensors"), metadata={"saved": "later"})
    assert weights_digest(tmp_path / "1.safetensors") == weights_digest(tmp_path / "2.safetensors")
    save_file({"a": a + 1e-3, "b": b}, str(tmp_path / "3.safetensors"))
    assert weights_digest(tmp_path / "3.safetensors") != weights_digest(tmp_path / "1.safetensors")


def test_saved_images_and_labels_come_back_only_for_the_same_key(tmp_path):
    lm = HipLandmarks(left=SideLandmarks(70.0, 50.0, 9.0, 66.0, 38.0), right=SideLandmarks(30.0, 50.0, 9.0, 34.0, 38.0))
    img = np.random.default_rng(0).integers(0, 255, (60, 100), dtype=np.uint8)
    item = LabelledSynthetic(image=img, landmarks=lm, mapping=SideMapping(False), seed=7, source="a.png",
                             target_na={"left": 101.5, "right": 96.0})
    key = {"generator": ["abc"], "steps": 25, "gate": ("m", 1.5)}
    save_synthetic(tmp_path, key, [item], generated=3, reasons={"na": 2})
    items, generated, reasons = load_synthetic(tmp_path, dict(key))
    back = items[0]
    assert generated == 3 and reasons == {"na": 2}
    assert np.array_equal(back.image, img) and back.landmarks == lm and back.mapping == SideMapping(False)
    assert back.seed == 7 and back.source == "a.png" and back.target_na == {"left": 101.5, "right": 96.0}
    assert load_synthetic(tmp_path, {**key, "steps": 20}) is None  # another setting: sample afresh
    (tmp_path / "synthetic.npz").write_bytes(b"broken")
    assert load_synthetic(tmp_path, key) is None  # an unreadable cache is not trusted either
