"""Small phantoms and a tiny trained model, made once per test session."""

import numpy as np
import pytest

from hipvision.phantom import PhantomConfig, render_phantom

TINY = dict(backbone="test_resnet", input_size=128, crop_size=64, channels=16, pretrained=False)


@pytest.fixture(scope="session")
def phantom_cases():
    """10 phantoms at 320 px: 8 train, 2 val (as arrays with exact landmarks)."""
    return [render_phantom(100 + i, PhantomConfig(size=320)) for i in range(10)]


@pytest.fixture(scope="session")
def phantom_samples(phantom_cases):
    from hipvision.ml.data import Sample

    return [Sample(image=c.pixels, landmarks=c.landmarks, mapping=c.mapping, spacing=c.spacing, name=f"ph{i}",
                   split="val" if i >= 8 else "train") for i, c in enumerate(phantom_cases)]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, phantom_samples):
    """A two-stage test_resnet model trained for 3 short epochs (seconds), saved to disk."""
    from hipvision.ml.training import TrainConfig, train_keypoints

    out = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    cfg = TrainConfig(**TINY, epochs=3, batch_size=4, min_samples_per_epoch=24, lr=3e-3, output=str(out),
                      trained_on="phantoms")
    result = train_keypoints(cfg, phantom_samples)
    return result


@pytest.fixture(scope="session")
def phantom_folder(tmp_path_factory):
    """6 phantom PNGs + annotations.json, as `hipvision phantom` writes them."""
    from hipvision.phantom import generate_phantoms

    folder = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(folder, 6, seed=5, config=PhantomConfig(size=256))
    return folder


def mirror_image(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[:, ::-1])
