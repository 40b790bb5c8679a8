"""How the project database is opened read-only, and which SQLite failures are the storage's
(read-only, full, I/O) rather than a bad item: the store's connection rules, kept apart from it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hipvision.core.records import StoreError


class ProjectWriteError(StoreError):
    """The project's database refused a write (read-only, full disk, I/O error): not a problem of
    one item, so callers that skip a bad item must let it stop the whole operation."""


# SQLite's primary result codes for "the storage refused": read-only, I/O error, full, cannot open.
_STORAGE_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN}


def storage_failure(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _STORAGE_CODES


def connect_read_only(db: Path) -> sqlite3.Connection:
    """A read-only connection to a WAL database in a folder nobody may write.

    `mode=ro` still needs the `-shm` index beside the database; it exists while a journal is
    pending and cannot be made in a read-only folder otherwise. Without a pending journal
    (`-wal` absent or empty) the main file is the whole database, so `immutable=1` (no -shm, no
    locks) reads it exactly. With a journal but no way to read it, refuse rather than show
    stale data."""
    from urllib.parse import quote

    uri = f"file:{quote(str(db))}"
    errors = []
    wal = db.with_name(db.name + "-wal")
    modes = ["mode=ro"] + ([] if wal.exists() and wal.stat().st_size else ["mode=ro&immutable=1"])
    for mode in modes:
        conn = None
        try:
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: probe
            return conn
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            errors.append(exc)
    if len(modes) == 1:
        raise StoreError(f"{db}: cannot read the project read-only: its journal {wal.name} holds changes not yet "
                         f"merged, which needs write access to {db.parent} ({errors[0]})")
    raise StoreError(f"{db}: cannot open project database read-only: {errors[-1]}")
