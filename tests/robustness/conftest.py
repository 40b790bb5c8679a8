"""A corpus of hostile label folders: valid phantom PNGs beside a corrupted label file."""

from __future__ import annotations

import json
import shutil

import pytest

from hipvision.phantom import PhantomConfig, generate_phantoms

N_IMAGES = 3


@pytest.fixture(scope="session")
def phantom_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(folder, N_IMAGES, seed=7, config=PhantomConfig(size=192))
    return folder


@pytest.fixture
def phantom_folder(phantom_source, tmp_path):
    """A fresh copy per test, so each can corrupt its own label file."""
    folder = tmp_path / "images"
    shutil.copytree(phantom_source, folder)
    return folder


def load_json(folder):
    return json.loads((folder / "annotations.json").read_text())


def write_json(folder, data):
    (folder / "annotations.json").write_text(json.dumps(data))
