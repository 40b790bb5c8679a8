"""Small phantoms and a tiny trained model, made once per test session."""

import shutil

import numpy as np
import pytest

from hipvision.core.importer import import_folder
from hipvision.core.interchange import read_coco, write_coco
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms, render_phantom

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


# ---------------------------------------------------------------- a project for the app's jobs

JOBS_TINY = dict(input_size=64, crop_size=64, channels=16, threads=2, min_samples_per_epoch=8)
N_IMAGES, N_UNLABELLED = 8, 2


@pytest.fixture(scope="session")
def base_project(tmp_path_factory):
    """8 phantoms, 2 without labels; a tiny active model trained on the rest."""
    from hipvision.ml.registry import register_model
    from hipvision.ml.training import TrainConfig, train_keypoints

    folder = tmp_path_factory.mktemp("jobs_project")
    generate_phantoms(folder, N_IMAGES, seed=31, config=PhantomConfig(size=192))
    write_coco(folder / "annotations.json", read_coco(folder / "annotations.json")[N_UNLABELLED:])
    with Project.open(folder) as project:
        import_folder(project)
        out = project.models_dir / "tiny.safetensors"
        train_keypoints(TrainConfig(backbone="test_resnet", pretrained=False, epochs=1, batch_size=4,
                                    output=str(out), trained_on="phantoms", **JOBS_TINY), project)
        register_model(project, out, activate=True, name="tiny")
    return folder


@pytest.fixture
def project_dir(base_project, tmp_path):
    dest = tmp_path / "p"
    shutil.copytree(base_project, dest)
    return dest


