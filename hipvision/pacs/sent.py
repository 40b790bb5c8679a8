"""What HipVision sent to a PACS, per image: the `sent_reports` table of the project.

A re-send after an edit must not replace the earlier report silently: the new SR names the
last one sent as its predecessor, and this record is where that last one is found. The server
is kept as an address only; user names, passwords and tokens never reach the project file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from pydicom.uid import ComprehensiveSRStorage

from hipvision.core.records import now_iso
from hipvision.core.store import Project


@dataclass(frozen=True)
class SentReport:
    """One instance sent for an image (an SR or a Secondary Capture)."""

    image_id: int
    sop_class_uid: str
    sop_uid: str
    series_uid: str
    study_uid: str
    server: str
    sent_at: str

    def __post_init__(self) -> None:
        for name in ("sop_class_uid", "sop_uid", "series_uid", "study_uid"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"SentReport.{name} must be a non-empty UID, got {value!r}")


def server_address(server_text: str) -> str:
    """`server_text` without what must not be stored: the user info of a URL (user:password@)
    and its query and fragment (where tokens travel). Non-URL forms (AE@host:port) pass as they are."""
    text = server_text.strip()
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc:
        # "AE@host:port" names the called AE and stays; "user:password@host" carries a secret.
        who, _, where = text.rpartition("@")
        return where if ":" in who else text
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def record_sent(project: Project, image_id: int, dataset, server_text: str) -> SentReport:
    """Remember that `dataset` (a pydicom Dataset just stored on the server) was sent for the image.
    One transaction: either the whole record is there or none of it."""
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")
               if not getattr(dataset, k, None)]
    if missing:
        raise ValueError(f"image {image_id}: the sent dataset lacks {', '.join(missing)}; nothing recorded")
    rec = SentReport(image_id=image_id, sop_class_uid=str(dataset.SOPClassUID), sop_uid=str(dataset.SOPInstanceUID),
                     series_uid=str(dataset.SeriesInstanceUID), study_uid=str(dataset.StudyInstanceUID),
                     server=server_address(server_text), sent_at=now_iso())
    project.image(image_id)  # a clear "no image with id" before the write
    with project.transaction() as c:
        c.execute("INSERT INTO sent_reports(image_id, sop_class_uid, sop_uid, series_uid, study_uid, server, sent_at) "
                  "VALUES (?,?,?,?,?,?,?)",
                  (rec.image_id, rec.sop_class_uid, rec.sop_uid, rec.series_uid, rec.study_uid, rec.server,
                   rec.sent_at))
    return rec


def sent_history(project: Project, image_id: int) -> list[SentReport]:
    try:
        rows = project._conn().execute(
            "SELECT image_id, sop_class_uid, sop_uid, series_uid, study_uid, server, sent_at FROM sent_reports "
            "WHERE image_id=? ORDER BY id", (image_id,)).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        return []  # a read-only project from before schema version 2: nothing was ever sent from it
    return [SentReport(**dict(r)) for r in rows]


def last_sent(project: Project, image_id: int, *, sop_class_uid: str = ComprehensiveSRStorage) -> SentReport | None:
    """The newest instance of that SOP class (default: the measurement SR) sent for the image."""
    sent = [r for r in sent_history(project, image_id) if r.sop_class_uid == sop_class_uid]
    return sent[-1] if sent else None
