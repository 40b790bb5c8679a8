"""The project store: a folder of radiographs plus `.hipvision/project.sqlite`.

Safety rules this module exists to keep:
- every finished edit is one transaction (WAL, synchronous=FULL): a crash or a kill loses at
  most the edit in flight;
- annotation revisions are append-only (a trigger refuses UPDATE): the newest is current;
- validation/test hold real images only (a CHECK constraint), and a split once assigned never
  changes;
- a prediction never overwrites a person's annotation (checked inside the write transaction,
  so the engine thread and the GUI thread cannot race past it).
One connection per thread (sqlite3 objects must not cross threads); WAL lets the GUI read
while the engine writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from hipvision.core.landmarks import HipLandmarks, SideMapping
from hipvision.core.locations import ProjectLocation, has_project, locate_project
from hipvision.core.project_models import ProjectModels
from hipvision.core.records import (
    LABELLED_STATUSES,
    SPLITS,
    STATUSES,
    Annotation,
    ImageRecord,
    StoreError,
    SyntheticRecord,
    now_iso,
)
from hipvision.core.schema import READABLE_FROM, SCHEMA_VERSION, migrate
from hipvision.core.store_connect import ProjectWriteError, connect_read_only, storage_failure

DATA_PREFIX = "@data/"  # image paths stored relative to the data dir (synthetic images)
DEFAULT_SPLIT_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def find_project(folder: str | os.PathLike) -> Project | None:
    """The project of `folder`, opened, or None when the folder has none: wherever
    `locations.locate_project` finds it (the folder's own database, read-only if need be, or the
    user-data-dir project of a folder that was read-only from the start)."""
    return Project.open(folder, create=False) if has_project(folder) else None


def _to_json(v) -> str | None:
    return None if v is None else json.dumps(v, sort_keys=True)


class Project(ProjectModels):
    """Open with `Project.open(folder)`; use from any thread; `close()` when done."""

    def __init__(self, location: ProjectLocation):
        self.location = location
        self.root = location.root
        self.data_dir = location.data_dir
        self.fallback = location.fallback  # True: the folder was read-only, data lives in the user data dir
        self.read_only = location.read_only  # True: the folder's own database, no longer writable
        self.db_path = location.db
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, folder: str | os.PathLike, *, create: bool = True) -> Project:
        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise StoreError(f"{root}: not a folder")
        location = locate_project(root)
        if not location.exists and not create:
            raise StoreError(f"{root}: no HipVision project here (run `hipvision import {root}`)")
        if not location.read_only:
            try:
                for sub in ("", "models", "synthetic"):
                    (location.data_dir / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a full disk or a user data dir nobody may write: one line, no traceback
                raise StoreError(f"cannot create the project folder {exc.filename or location.data_dir}: "
                                 f"{exc.strerror or exc}") from None
        project = cls(location)
        try:
            conn = project._conn()
            if location.read_only:
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found < READABLE_FROM:  # upgrading writes, which this folder does not allow
                    raise StoreError(f"{project.db_path}: this project was made by an older HipVision and must "
                                     f"be upgraded, but {root} is read-only (make it writable once, then reopen)")
            if not location.read_only or conn.execute("PRAGMA user_version").fetchone()[0] > SCHEMA_VERSION:
                migrate(conn, str(project.db_path))  # (a newer project is refused by migrate, read-only or not)
        except sqlite3.DatabaseError as exc:
            project.close()
            raise StoreError(f"{project.db_path}: cannot open project database: {exc}") from None
        except StoreError:
            project.close()
            raise
        return project

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def synthetic_dir(self) -> Path:
        return self.data_dir / "synthetic"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                conn = connect_read_only(self.db_path)
            else:
                conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                # FULL: a committed edit survives power loss too, not only a killed process.
                conn.execute("PRAGMA synchronous=FULL")
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    @contextmanager
    def transaction(self):
        """One write transaction. IMMEDIATE takes the write lock up front, so two threads
        never both read-then-write and deadlock on the upgrade."""
        if self.read_only:
            raise ProjectWriteError(f"cannot save: {self.location.notice}")
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (a full disk, an I/O error)
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if storage_failure(exc):  # a full disk or a lost mount: one line naming the database
                raise ProjectWriteError(f"cannot write {self.db_path}: {exc}") from None
            raise

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._all_conns:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass  # closed from another thread's point of view; nothing left to flush
            self._all_conns.clear()
        self._local = threading.local()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def integrity_check(self) -> str:
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]

    # ------------------------------------------------------------ settings

    def get_setting(self, key: str, default=None):
        row = self._conn().execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # ------------------------------------------------------------ images

    def rel_path(self, path: str | os.PathLike) -> str:
        # The data dir first: it may sit inside the root, and its files must stay addressable
        # when the project falls back to the user data dir.
        p = Path(path).resolve()
        for base, prefix in ((self.data_dir.resolve(), DATA_PREFIX), (self.root, "")):
            if p.is_relative_to(base):
                return prefix + p.relative_to(base).as_posix()
        raise StoreError(f"{p}: outside the project folder {self.root}")

    def abs_path(self, rel: str) -> Path:
        if rel.startswith(DATA_PREFIX):
            return self.data_dir / rel[len(DATA_PREFIX):]
        return self.root / rel

    def _image(self, row: sqlite3.Row) -> ImageRecord:
        spacing = None
        if row["spacing_row"] is not None:
            spacing = (row["spacing_row"], row["spacing_col"])
        return ImageRecord(
            id=row["id"], path=row["path"], abs_path=self.abs_path(row["path"]), sha256=row["sha256"],
            width=row["width"], height=row["height"], bit_depth=row["bit_depth"], spacing=spacing,
            modality=row["modality"], split=row["split"], source=row["source"], status=row["status"],
            mapping=SideMapping(bool(row["right_on_image_left"])), error=row["error"], added_at=row["added_at"],
        )

    def images(self, *, split: str | tuple[str, ...] | None = None, source: str | None = None,
               status: str | tuple[str, ...] | None = None) -> list[ImageRecord]:
        sql, args = "SELECT * FROM images WHERE 1=1", list[object]()
        for col, val in (("split", split), ("source", source), ("status", status)):
            if val is None:
                continue
            vals = (val,) if isinstance(val, str) else tuple(val)
            sql += f" AND {col} IN ({','.join('?' * len(vals))})"
            args += vals
        rows = self._conn().execute(sql + " ORDER BY source, path", args).fetchall()
        return [self._image(r) for r in rows]

    def image(self, image_id: int) -> ImageRecord:
        row = self._conn().execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.root}: no image with id {image_id}")
        return self._image(row)

    def image_by_path(self, rel: str) -> ImageRecord | None:
        row = self._conn().execute("SELECT * FROM images WHERE path=?", (rel,)).fetchone()
        return None if row is None else self._image(row)

    def _pick_split(self, conn: sqlite3.Connection, key: str) -> str:
        """Largest deficit against the target fractions, so a 12-image project still gets
        val and test images; ties broken by the content hash so the choice is reproducible."""
        fractions = self.get_setting("split_fractions", DEFAULT_SPLIT_FRACTIONS)
        counts = dict.fromkeys(SPLITS, 0)
        for split, n in conn.execute(
            "SELECT split, COUNT(*) FROM images WHERE source='real' AND status!='error' GROUP BY split"
        ):
            counts[split] = n
        total = sum(counts.values()) + 1
        tie = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return max(SPLITS, key=lambda s: (round(fractions.get(s, 0) * total - counts[s], 9),
                                          (tie + SPLITS.index(s) / 3) % 1))

    def add_image(self, path: str | os.PathLike, *, header=None, sha256: str | None = None,
                  error: str | None = None, source: str = "real", split: str | None = None,
                  mapping: SideMapping | None = None, conn: sqlite3.Connection | None = None) -> ImageRecord:
        """Register one image (or update its header if the file changed). `header` is a
        radiograph.ImageHeader; an unreadable file is recorded with its `error`."""
        rel = self.rel_path(path)

        def write(c: sqlite3.Connection) -> int:
            existing = c.execute("SELECT id, split FROM images WHERE path=?", (rel,)).fetchone()
            fields = {
                "sha256": sha256,
                "width": getattr(header, "width", None), "height": getattr(header, "height", None),
                "bit_depth": getattr(header, "bit_depth", None),
                "spacing_row": header.spacing[0] if header is not None and header.spacing else None,
                "spacing_col": header.spacing[1] if header is not None and header.spacing else None,
                "modality": getattr(header, "modality", "") or "",
                "error": error,
            }
            if existing is not None:
                sets = ", ".join(f"{k}=?" for k in fields)
                # A briefly unreadable file must not erase a person's status: edited/verified
                # stay (the error text still shows); a readable file again leaves 'error'.
                status_sql = (", status=CASE WHEN status IN ('edited', 'verified') THEN status ELSE 'error' END"
                              if error else
                              ", status=CASE status WHEN 'error' THEN CASE WHEN EXISTS (SELECT 1 FROM annotations "
                              "WHERE image_id=images.id) THEN 'predicted' ELSE 'new' END ELSE status END")
                c.execute(f"UPDATE images SET {sets}{status_sql} WHERE id=?", (*fields.values(), existing["id"]))
                return existing["id"]
            chosen = "train" if source == "synthetic" else (split or self._pick_split(c, sha256 or rel))
            cols = ["path", "split", "source", "status", "added_at", "right_on_image_left", *fields]
            vals = [rel, chosen, source, "error" if error else "new", now_iso(),
                    int((mapping or SideMapping()).right_on_image_left), *fields.values()]
            try:
                cur = c.execute(f"INSERT INTO images({','.join(cols)}) VALUES ({','.join('?' * len(cols))})", vals)
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"{rel}: cannot add image: {exc}") from None
            assert cur.lastrowid is not None  # set by every successful INSERT
            return cur.lastrowid

        if conn is not None:
            image_id = write(conn)
        else:
            with self.transaction() as c:
                image_id = write(c)
        return self.image(image_id)

    def set_status(self, image_id: int, status: str) -> None:
        if status not in STATUSES:
            raise StoreError(f"status must be one of {STATUSES}, got {status!r}")
        with self.transaction() as c:
            c.execute("UPDATE images SET status=? WHERE id=?", (status, image_id))

    def set_spacing(self, image_id: int, spacing: tuple[float, float] | None) -> None:
        """Pixel spacing from a label file for formats that carry none (PNG, JPEG)."""
        row, col = spacing if spacing is not None else (None, None)
        with self.transaction() as c:
            c.execute("UPDATE images SET spacing_row=?, spacing_col=? WHERE id=?", (row, col, image_id))

    def set_mapping(self, image_id: int, mapping: SideMapping) -> None:
        with self.transaction() as c:
            c.execute("UPDATE images SET right_on_image_left=? WHERE id=?",
                      (int(mapping.right_on_image_left), image_id))

    def split_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for split, source, n in self._conn().execute(
            "SELECT split, source, COUNT(*) FROM images WHERE status!='error' GROUP BY split, source"
        ):
            out.setdefault(split, {})[source] = n
        return out

    # ------------------------------------------------------------ annotations

    @staticmethod
    def _annotation(row: sqlite3.Row) -> Annotation:
        lm = None if row["landmarks"] is None else HipLandmarks.from_dict(json.loads(row["landmarks"]))
        conf = None if row["confidence"] is None else json.loads(row["confidence"])
        return Annotation(id=row["id"], image_id=row["image_id"], author=row["author"],
                          created_at=row["created_at"], landmarks=lm, confidence=conf, note=row["note"])

    def current_annotation(self, image_id: int) -> Annotation | None:
        row = self._conn().execute(
            "SELECT * FROM annotations WHERE image_id=? ORDER BY id DESC LIMIT 1", (image_id,)).fetchone()
        return None if row is None else self._annotation(row)

    def current_landmarks(self, image_id: int) -> HipLandmarks | None:
        ann = self.current_annotation(image_id)
        return None if ann is None else ann.landmarks

    def annotation_history(self, image_id: int) -> list[Annotation]:
        rows = self._conn().execute("SELECT * FROM annotations WHERE image_id=? ORDER BY id", (image_id,))
        return [self._annotation(r) for r in rows]

    def latest_model_annotation(self, image_id: int) -> Annotation | None:
        row = self._conn().execute(
            "SELECT * FROM annotations WHERE image_id=? AND author LIKE 'model:%' ORDER BY id DESC LIMIT 1",
            (image_id,)).fetchone()
        return None if row is None else self._annotation(row)

    def _insert_annotation(self, c, image_id, landmarks, author, confidence, note) -> int:
        cur = c.execute(
            "INSERT INTO annotations(image_id, author, created_at, landmarks, confidence, note) VALUES (?,?,?,?,?,?)",
            (image_id, author, now_iso(), _to_json(None if landmarks is None else landmarks.to_dict()),
             _to_json(confidence), note))
        return cur.lastrowid

    def save_annotation(self, image_id: int, landmarks: HipLandmarks | None, *, author: str = "user",
                        confidence: dict | None = None, note: str | None = None,
                        status: str | None = None, mapping: SideMapping | None = None,
                        restore: bool = False) -> Annotation:
        """Append one revision and set the image's status, in one transaction.

        Default status: 'edited' for a person, 'predicted' for a model, 'verified' for an
        import or a labelled generator. Model revisions go through `save_prediction`, except
        with `restore=True`: a person's undo (or reset) bringing back an earlier revision keeps
        that revision's author, so the trail never credits the user with a model's work.
        `mapping` changes the image/patient side mapping in the same transaction: landmarks
        are by patient side and only make sense together with it."""
        if author.startswith("model:") and not restore:
            raise StoreError("model output must be saved with save_prediction (it never overwrites edits)")
        status = status or ("edited" if author == "user" else "verified")
        if status not in STATUSES:
            raise StoreError(f"status must be one of {STATUSES}, got {status!r}")
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone() is None:
                raise StoreError(f"{self.root}: no image with id {image_id}")
            ann_id = self._insert_annotation(c, image_id, landmarks, author, confidence, note)
            c.execute("UPDATE images SET status=? WHERE id=?", (status, image_id))
            if mapping is not None:
                c.execute("UPDATE images SET right_on_image_left=? WHERE id=?",
                          (int(mapping.right_on_image_left), image_id))
        return self._annotation(self._conn().execute("SELECT * FROM annotations WHERE id=?", (ann_id,)).fetchone())

    def save_prediction(self, image_id: int, landmarks: HipLandmarks, *, model_id: str | int,
                        confidence: dict | None = None) -> bool:
        """Store a model's landmarks unless a person already annotated the image.

        Returns False (and writes nothing) for edited/verified images: the check and the
        write share one transaction, so an edit saved meanwhile by the GUI is never lost."""
        with self.transaction() as c:
            row = c.execute("SELECT status FROM images WHERE id=?", (image_id,)).fetchone()
            if row is None:
                raise StoreError(f"{self.root}: no image with id {image_id}")
            if row["status"] in LABELLED_STATUSES:
                return False
            self._insert_annotation(c, image_id, landmarks, f"model:{model_id}", confidence, None)
            c.execute("UPDATE images SET status='predicted' WHERE id=?", (image_id,))
        return True

    def labelled(self, splits: tuple[str, ...] = ("train",), *, source: str | None = None
                 ) -> list[tuple[ImageRecord, HipLandmarks]]:
        """Images a person (or an exact import/generator) stands behind, with their landmarks."""
        out = []
        for rec in self.images(split=splits, status=LABELLED_STATUSES, source=source):
            lm = self.current_landmarks(rec.id)
            if lm is not None:
                out.append((rec, lm))
        return out

    # ------------------------------------------------------------ synthetic images

    def add_synthetic(self, file: str | os.PathLike, *, method: str, generator: str, seed: int,
                      landmarks: HipLandmarks | None, condition: HipLandmarks | None = None,
                      gate_score: float | None = None, header=None, sha256: str | None = None,
                      label_author: str | None = None, confidence: dict | None = None,
                      mapping: SideMapping | None = None) -> ImageRecord:
        """Register a generated image (already written under synthetic_dir) with its provenance.

        Labelled generators (conditional) pass `landmarks` with label_author 'generator:<method>'
        (status verified); unlabelled ones pass the model's pre-label with label_author
        'model:<id>' (status predicted: the review queue)."""
        with self.transaction() as c:
            rec = self.add_image(file, header=header, sha256=sha256, source="synthetic", mapping=mapping, conn=c)
            c.execute(
                "INSERT INTO synthetic(image_id, method, generator, seed, condition, gate_score, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (rec.id, method, generator, int(seed), _to_json(None if condition is None else condition.to_dict()),
                 gate_score, now_iso()))
            if landmarks is not None:
                author = label_author or f"generator:{method}"
                self._insert_annotation(c, rec.id, landmarks, author, confidence, None)
                status = "predicted" if author.startswith("model:") else "verified"
                c.execute("UPDATE images SET status=? WHERE id=?", (status, rec.id))
        return self.image(rec.id)

    def synthetic_info(self, image_id: int) -> SyntheticRecord | None:
        row = self._conn().execute("SELECT * FROM synthetic WHERE image_id=?", (image_id,)).fetchone()
        if row is None:
            return None
        cond = None if row["condition"] is None else HipLandmarks.from_dict(json.loads(row["condition"]))
        return SyntheticRecord(image_id=row["image_id"], method=row["method"], generator=row["generator"],
                               seed=row["seed"], condition=cond, gate_score=row["gate_score"],
                               created_at=row["created_at"])
