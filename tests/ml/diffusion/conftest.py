"""A small labelled phantom project (made once), copied for tests that write to it, and a
tiny conditional generator trained on it (seconds)."""

import shutil

import pytest

from hipvision.ml.diffusion.conditional import ConditionalConfig
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig

TINY_TRAIN = DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=8, max_steps=4, warmup_steps=1,
                                 checkpoint_every=0, seed=0)
TINY_COND = ConditionalConfig(variants=2, max_side=256)


class StandInPrediction:
    def __init__(self, landmarks, confidence):
        self.landmarks, self.confidence = landmarks, confidence


@pytest.fixture(scope="session")
def phantom_project_master(tmp_path_factory):
    """12 phantoms at 256 px imported with their labels: splits train/val/test by the store."""
    from hipvision.core.importer import import_folder
    from hipvision.core.store import Project
    from hipvision.phantom import PhantomConfig, generate_phantoms

    folder = tmp_path_factory.mktemp("phantom_project")
    generate_phantoms(folder, 12, seed=3, config=PhantomConfig(size=256))
    with Project.open(folder) as p:
        import_folder(p)
    return folder


@pytest.fixture
def phantom_project(phantom_project_master, tmp_path):
    dst = tmp_path / "project"
    shutil.copytree(phantom_project_master, dst)
    return dst


@pytest.fixture(scope="session")
def trained_conditional(phantom_project_master, tmp_path_factory):
    """A tiny conditional (crop) generator trained for 4 steps on the master project."""
    from hipvision.core.store import Project
    from hipvision.ml.diffusion.conditional import train_conditional
    from hipvision.ml.diffusion.sources import real_training_images

    out = tmp_path_factory.mktemp("gen") / "conditional-crop"
    with Project.open(phantom_project_master, create=False) as p:
        imgs = real_training_images(p, labelled=True, max_side=TINY_COND.max_side)
    train_conditional(imgs, TINY_COND, TINY_TRAIN, out)
    return out, imgs
