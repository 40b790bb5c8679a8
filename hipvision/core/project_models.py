"""The trained models a project knows: the `models` table, one of them active.

Mixed into `core.store.Project`, which provides the connection and transactions."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from hipvision.core.records import ModelRecord, StoreError, now_iso


class ProjectModels:
    if TYPE_CHECKING:  # provided by Project
        root: Path
        data_dir: Path
        _conn: Callable[[], sqlite3.Connection]
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def _model(self, row: sqlite3.Row) -> ModelRecord:
        f = Path(row["file"])
        return ModelRecord(
            id=row["id"], name=row["name"], backbone=row["backbone"], file=row["file"],
            abs_file=f if f.is_absolute() else self.data_dir / f, created_at=row["created_at"], kind=row["kind"],
            data_summary=json.loads(row["data_summary"]), metrics=json.loads(row["metrics"]),
            active=bool(row["active"]))

    def add_model(self, *, name: str, backbone: str, file: str | os.PathLike, kind: str = "trained",
                  data_summary: dict | None = None, metrics: dict | None = None, activate: bool = False) -> ModelRecord:
        f = Path(file)
        try:
            stored = f.resolve().relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            stored = str(f.resolve())  # e.g. the bundled default model
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO models(name, backbone, file, created_at, kind, data_summary, metrics) "
                "VALUES (?,?,?,?,?,?,?)",
                (name, backbone, stored, now_iso(), kind, json.dumps(data_summary or {}), json.dumps(metrics or {})))
            model_id = cur.lastrowid
            assert model_id is not None  # set by every successful INSERT
            if activate:
                c.execute("UPDATE models SET active=0 WHERE active=1")
                c.execute("UPDATE models SET active=1 WHERE id=?", (model_id,))
        return self.model(model_id)

    def model(self, model_id: int) -> ModelRecord:
        row = self._conn().execute("SELECT * FROM models WHERE id=?", (model_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.root}: no model with id {model_id}")
        return self._model(row)

    def models(self) -> list[ModelRecord]:
        return [self._model(r) for r in self._conn().execute("SELECT * FROM models ORDER BY id")]

    def active_model(self) -> ModelRecord | None:
        row = self._conn().execute("SELECT * FROM models WHERE active=1").fetchone()
        return None if row is None else self._model(row)

    def set_active_model(self, model_id: int | None) -> None:
        with self.transaction() as c:
            c.execute("UPDATE models SET active=0 WHERE active=1")
            if model_id is not None:
                if c.execute("UPDATE models SET active=1 WHERE id=?", (model_id,)).rowcount != 1:
                    raise StoreError(f"{self.root}: no model with id {model_id}")

    def delete_model(self, model_id: int, *, delete_file: bool = True) -> None:
        rec = self.model(model_id)
        if rec.active:
            raise StoreError(f"model {rec.name!r} is active; activate another model before deleting it")
        with self.transaction() as c:
            c.execute("DELETE FROM models WHERE id=?", (model_id,))
        # The file goes after the row: a crash in between leaves an orphan file, never a row
        # pointing at nothing. Files outside the data dir (the bundled default) are never touched;
        # resolved first, so a stored "../../x" or a symlink cannot lead the delete out of it.
        if delete_file and rec.abs_file.resolve().is_relative_to(Path(self.data_dir).resolve()):
            for p in (rec.abs_file, rec.abs_file.with_suffix(".json")):
                p.unlink(missing_ok=True)
