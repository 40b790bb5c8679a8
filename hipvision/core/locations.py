"""Where a folder's project lives: `<folder>/.hipvision/`, or for a read-only folder a
directory in the user data dir keyed by the folder's path.

`locate_project` is the one lookup: `Project.open`, `store.find_project`, `has_project`, every
command and the GUI's open path all go through it, so they can never disagree about which
database holds a vet's work.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
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
    """Whether the project data of `folder` may be written inside it. (Tests running as root, whom
    permission bits do not stop, replace this to simulate a read-only folder.)"""
    data = folder / DATA_DIRNAME
    if data.exists():
        db = data / DB_NAME
        return os.access(data, os.W_OK) and (not db.exists() or os.access(db, os.W_OK))
    return os.access(folder, os.W_OK)


def fallback_data_dir(root: Path) -> Path:
    """The user-data-dir home of a read-only folder's project, keyed by the folder's absolute
    path so reopening finds it again."""
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return user_data_root() / "projects" / f"{root.name or 'root'}-{key}"


@dataclass(frozen=True)
class ProjectLocation:
    """Where the project of `root` lives and how it may be opened.

    read_only: a database exists in `<root>/.hipvision/` but can no longer be written (the
    folder became read-only after the project was made): it is opened read-only.
    fallback: the data dir is in the user data dir (the folder was read-only before it had a
    project of its own)."""

    root: Path
    data_dir: Path
    read_only: bool = False
    fallback: bool = False

    def __post_init__(self) -> None:
        if not self.root.is_absolute() or not self.data_dir.is_absolute():
            raise ValueError(f"ProjectLocation: root and data_dir must be absolute, got {self.root}, {self.data_dir}")
        if self.read_only and self.fallback:
            # A fallback project lives in the user's own data dir, which is writable by definition.
            raise ValueError(f"ProjectLocation: {self.data_dir} cannot be both read-only and the fallback")

    @property
    def db(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def exists(self) -> bool:
        return self.db.is_file()

    @property
    def notice(self) -> str | None:
        """One line for the user when the project is not simply `<root>/.hipvision/`, else None."""
        if self.read_only:
            return (f"{self.root} is read-only: its project {self.db} is opened read-only and edits cannot be "
                    "saved (make the folder writable to edit)")
        if self.fallback:
            return f"{self.root} is read-only: the project (annotations, models) is kept in {self.data_dir}"
        return None


def locate_project(folder: str | os.PathLike) -> ProjectLocation:
    """Where the project of `folder` is, or would be made. `exists` says whether it is there.

    A database already in `<folder>/.hipvision/` always wins, writable or not: that is where the
    vet's edits are. When the folder has become read-only it is opened read-only (SQLite
    `mode=ro`) rather than copied to the user data dir, because a copy forks the record: edits
    made in the copy would vanish from sight the day the folder is writable again (this lookup
    prefers the folder's database), which is the very loss this exists to prevent; and a second,
    silent database is exactly how the vet's work got hidden before. Read-only keeps one truth and
    says plainly that edits cannot be saved.
    """
    root = Path(folder).expanduser().resolve()
    local = root / DATA_DIRNAME
    if (local / DB_NAME).is_file():
        return ProjectLocation(root, local, read_only=not _folder_writable(root))
    if _folder_writable(root):
        return ProjectLocation(root, local)
    return ProjectLocation(root, fallback_data_dir(root), fallback=True)


def has_project(folder: str | os.PathLike) -> bool:
    """Whether `folder` has a project, wherever its data lives."""
    root = Path(folder).expanduser()
    return root.is_dir() and locate_project(root).exists
