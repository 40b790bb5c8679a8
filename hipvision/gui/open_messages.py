"""The one-line messages of opening a project: why it failed, and what an import left out.

Each names the file at fault, so the user knows what to fix without a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hipvision.core.records import ImportReport, StoreError

# What opening, importing or rescanning a project may raise that is the user's environment,
# not a bug: the store's own errors, SQLite's (read-only database, disk full, corrupt file),
# the file system's (permissions, disk full) and names that are not text (UnicodeError is a
# ValueError).
OPEN_ERRORS = (StoreError, sqlite3.Error, OSError, ValueError)


def failure_text(exc: BaseException, db_path: Path | None = None) -> str:
    """`exc` as one line naming its file: SQLite's messages ("attempt to write a readonly
    database") do not say which database, so its path goes first."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    if isinstance(exc, sqlite3.Error) and db_path is not None:
        return f"{db_path}: {text}"
    return text


def open_failed(folder: str | Path, exc: BaseException | str, db_path: Path | None = None) -> str:
    reason = exc if isinstance(exc, str) else failure_text(exc, db_path)
    return f"Cannot open {printable_path(folder)}: {reason}"


def is_utf8_path(path: str | os.PathLike) -> bool:
    try:
        os.fsdecode(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_path(path: str | os.PathLike) -> str:
    """The path with any byte that is not UTF-8 written as \\xff: Qt drops such characters."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def import_problems(report: ImportReport) -> str | None:
    """The files and label entries an import could not take, the first of each by name, or None."""
    parts = []
    files = [_clip(f"{name} ({reason})") for name, reason in report.errors]
    labels = [_clip(str(p)) for p in report.label_problems]
    for items, one, many in ((files, "file not imported", "files not imported"),
                             (labels, "label entry rejected", "label entries rejected")):
        if items:
            more = f" and {len(items) - 1} more" if len(items) > 1 else ""
            parts.append(f"{len(items)} {one if len(items) == 1 else many}: {items[0]}{more}")
    return "; ".join(parts) or None


def _clip(text: str, limit: int = 300) -> str:
    # A hostile label file can put a megabyte into one name; the banner shows the start.
    return text if len(text) <= limit else text[:limit - 1] + "…"
