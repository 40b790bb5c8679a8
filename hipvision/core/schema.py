"""SQLite schema of a project and its forward migrations.

The schema version is `PRAGMA user_version`. A migration is a list of SQL statements that
takes version N-1 to N; they run in one transaction, so a failed upgrade leaves the file
as it was. Never edit a published migration: append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[list[str]] = [
    # 1: initial schema
    [
        """CREATE TABLE images (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,            -- relative to the project root, '/'-separated
            sha256 TEXT,
            width INTEGER, height INTEGER, bit_depth INTEGER,
            spacing_row REAL, spacing_col REAL,   -- mm per pixel, NULL when unknown
            modality TEXT NOT NULL DEFAULT '',
            split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
            source TEXT NOT NULL DEFAULT 'real' CHECK (source IN ('real', 'synthetic')),
            status TEXT NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'predicted', 'edited', 'verified', 'error')),
            right_on_image_left INTEGER NOT NULL DEFAULT 1,
            error TEXT,
            added_at TEXT NOT NULL,
            -- validation and test hold real images only; enforced here so no code path can break it
            CHECK (source = 'real' OR split = 'train')
        )""",
        """CREATE TABLE annotations (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            author TEXT NOT NULL,                 -- 'user' or 'model:<id>' or 'import:<file>'
            created_at TEXT NOT NULL,
            landmarks TEXT,                       -- JSON HipLandmarks; NULL = cleared by the user
            confidence TEXT,                      -- JSON {landmark: 0..1} for model revisions
            note TEXT
        )""",
        "CREATE INDEX annotations_image ON annotations(image_id, id)",
        # Append-only audit trail: revisions can be added, never changed or removed.
        """CREATE TRIGGER annotations_no_update BEFORE UPDATE ON annotations
           BEGIN SELECT RAISE(ABORT, 'annotation revisions are append-only'); END""",
        """CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            backbone TEXT NOT NULL,
            file TEXT NOT NULL,                   -- relative to .hipvision/ or absolute (bundled default)
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'trained' CHECK (kind IN ('trained', 'default', 'imported')),
            data_summary TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1",
        """CREATE TABLE synthetic (
            image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
            method TEXT NOT NULL,                 -- ddpm | dreambooth | conditional
            generator TEXT NOT NULL,              -- generator checkpoint path or id
            seed INTEGER NOT NULL,
            condition TEXT,                       -- JSON landmarks the image was conditioned on
            gate_score REAL,
            created_at TEXT NOT NULL
        )""",
        # Unused since jobs run in the app's engine (core.jobs) and are not persisted; kept, not
        # dropped, so projects stay at version 1 and older HipVision versions can still open them.
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
            message TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            finished_at TEXT
        )""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    # 2: what was sent to a PACS (hipvision.pacs.sent), so a re-send after an edit names its
    # predecessor instead of silently replacing it. No credentials: `server` is the address only.
    [
        """CREATE TABLE sent_reports (
            id INTEGER PRIMARY KEY,
            image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
            sop_class_uid TEXT NOT NULL,          -- an SR or a Secondary Capture
            sop_uid TEXT NOT NULL,
            series_uid TEXT NOT NULL,
            study_uid TEXT NOT NULL,
            server TEXT NOT NULL,
            sent_at TEXT NOT NULL
        )""",
        "CREATE INDEX sent_reports_image ON sent_reports(image_id, id)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
# The oldest version this code reads as it is, without migrating: what a read-only folder's
# project needs (it cannot be upgraded). Version 2 only added `sent_reports`, which its
# readers take as empty when it is missing.
READABLE_FROM = 1


class SchemaError(RuntimeError):
    pass


def migrate(conn: sqlite3.Connection, path: str = "") -> int:
    """Bring the database to SCHEMA_VERSION; returns the version found before."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: project schema version {found} is newer than this HipVision supports "
            f"({SCHEMA_VERSION}); update HipVision to open it"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in MIGRATIONS[version - 1]:
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found
