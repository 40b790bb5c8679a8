"""The demo project: a writable copy of the bundled sample radiographs (Qt-free).

The bundled samples may sit in a read-only install folder, and a user's corrections must
survive an upgrade, so the demo lives in the user data dir (HIPVISION_DATA_DIR overrides)
and is copied only on first use; later runs open the same copy with the user's edits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hipvision.core.importer import import_folder
from hipvision.core.locations import DATA_DIRNAME, DB_NAME, user_data_root
from hipvision.core.resources import sample_project_dir
from hipvision.core.store import Project

DEMO_DIRNAME = "demo"


def demo_dir() -> Path:
    return user_data_root() / DEMO_DIRNAME


def prepare_demo_project(target: str | Path | None = None, *, source: str | Path | None = None) -> Path:
    """The demo folder, copied from the samples and imported (with their labels) on first run."""
    target = Path(target) if target is not None else demo_dir()
    if (target / DATA_DIRNAME / DB_NAME).exists():
        return target
    src = Path(source) if source is not None else sample_project_dir()
    files = [p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")] if src.is_dir() else []
    if not files:
        raise FileNotFoundError(f"the bundled sample project is missing or empty: {src}")
    if not target.exists():
        # Copy beside the target, then rename: an interrupted copy never looks like a demo.
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
        try:
            for f in files:
                shutil.copy2(f, tmp / f.name)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    else:
        for f in files:
            if not (target / f.name).exists():
                shutil.copy2(f, target / f.name)
    with Project.open(target) as project:
        import_folder(project, labels=True)
    return target
