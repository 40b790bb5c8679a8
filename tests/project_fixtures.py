"""Qt-free project fixtures shared by the gui, annotation and core tests: a small phantom
project per test, with settings and fallback projects in temporary user dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hipvision.core.importer import import_folder
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms

PHANTOM_SIZE = 320
N_PHANTOMS = 4


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    """Settings, window geometry (QSettings INI) and fallback projects go to tmp dirs."""
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture(scope="session")
def phantom_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out, N_PHANTOMS, seed=11, config=PhantomConfig(size=PHANTOM_SIZE))
    return out


def make_project(src: Path, dest: Path, *, extra: dict[str, bytes] | None = None) -> Path:
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    for name, data in (extra or {}).items():
        (dest / name).write_bytes(data)
    with Project.open(dest) as project:
        import_folder(project, labels=True)
    return dest


@pytest.fixture
def project_dir(tmp_path, phantom_folder) -> Path:
    return make_project(phantom_folder, tmp_path / "project")
