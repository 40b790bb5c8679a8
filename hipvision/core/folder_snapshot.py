"""What a killed job leaves behind, and removing it.

The engine's child process can die at any instant (Cancel after its grace, the OOM killer, a
crash in a native library). Every write is atomic, so nothing is half-written; but a dead job
may still have left whole files no record points at: temporary files of an atomic write, a
retrain's checkpoint and resume state before registration, a generator's checkpoints, an image
written but never registered. Before the job the engine notes which files the project's
`models/` and `synthetic/` hold; after a death it removes the new ones the database does not
name. A database row is the commit point (one SQLite transaction), so what is registered stays.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from hipvision.core.locations import locate_project

log = logging.getLogger(__name__)

WATCHED = ("models", "synthetic")  # the folders a job writes under the project's data dir


@dataclass(frozen=True)
class FolderSnapshot:
    """The files and folders under a project's watched folders before a job ran."""

    project_dir: Path
    data_dir: Path
    paths: frozenset[Path]

    def __post_init__(self) -> None:
        if not self.data_dir.is_absolute():
            raise ValueError(f"FolderSnapshot.data_dir must be absolute, got {self.data_dir}")


def _walk(data_dir: Path) -> set[Path]:
    out: set[Path] = set()
    for name in WATCHED:
        top = data_dir / name
        if not top.is_dir():
            continue
        for folder, dirs, files in os.walk(top):
            base = Path(folder)
            out.update(base / d for d in dirs)
            out.update(base / f for f in files)
    return out


def snapshot(project_dir: str | os.PathLike) -> FolderSnapshot | None:
    """The project's watched files now; None when `project_dir` has no project, or one opened
    read-only (no job writes there)."""
    where = locate_project(project_dir)
    if not where.exists or where.read_only:
        return None
    return FolderSnapshot(where.root, where.data_dir, frozenset(_walk(where.data_dir)))


def _registered(before: FolderSnapshot) -> set[Path]:
    """Files the project's database names: model weights with their sidecars, images."""
    from hipvision.core.store import Project

    with Project.open(before.project_dir, create=False) as project:
        named = {p.resolve() for m in project.models() for p in (m.abs_file, m.abs_file.with_suffix(".json"))}
        named |= {r.abs_path.resolve() for r in project.images(source="synthetic")}
    return named


def remove_new_files(before: FolderSnapshot) -> list[Path]:
    """Remove what appeared since `before` and no record names; return what was removed.

    Runs on the parent side after the child died, so no writer is left to race with."""
    new = _walk(before.data_dir) - before.paths
    if not new:
        return []
    keep = _registered(before)
    removed: list[Path] = []
    for path in sorted(new, key=lambda p: len(p.parts), reverse=True):  # files and inner folders first
        try:
            if path.is_dir() and not path.is_symlink():
                if not any(path.iterdir()):
                    path.rmdir()
                    removed.append(path)
                elif path.name.endswith(".tmp"):  # a folder written under a temporary name
                    shutil.rmtree(path)
                    removed.append(path)
            elif path.resolve() not in keep:
                path.unlink(missing_ok=True)
                removed.append(path)
        except OSError as exc:  # one stubborn file must not stop the rest
            log.warning("could not remove %s left by a stopped job: %s", path, exc)
    if removed:
        log.info("removed %d file(s) a stopped job left in %s", len(removed), before.data_dir)
    return removed
