"""Where a folder's project lives: `<folder>/.hipvision/`, or for a read-only folder a
directory in the user data dir keyed by the folder's path."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DATA_DIRNAME = ".hipvision"
DB_NAME = "project.sqlite"


def user_data_root() -> Path:
    override = os.environ.get("HIPVISION_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("hipvision", appauthor=False))


def _folder_writable(folder: Path) -> bool:
    data = folder / DATA_DIRNAME
    if data.exists():
        return os.access(data, os.W_OK)
    return os.access(folder, os.W_OK)


def resolve_data_dir(root: Path) -> tuple[Path, bool]:
    """(data dir, is_fallback). A read-only folder keeps its project in the user data dir,
    keyed by the folder's absolute path so reopening finds it again."""
    if _folder_writable(root):
        return root / DATA_DIRNAME, False
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return user_data_root() / "projects" / f"{root.name or 'root'}-{key}", True


def has_project(folder: str | os.PathLike) -> bool:
    """Whether `folder` has a project, wherever its data lives."""
    root = Path(folder).expanduser()
    return root.is_dir() and (resolve_data_dir(root.resolve())[0] / DB_NAME).is_file()
