"""The record of what was sent: kept in the project file across reopening, never with credentials,
and added to older projects by a schema migration."""

from __future__ import annotations

import sqlite3

import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage, generate_uid

from hipvision.core.schema import MIGRATIONS, SCHEMA_VERSION
from hipvision.core.store import Project
from hipvision.pacs.sent import last_sent, record_sent, sent_history


def sent_dataset(sop_class: str = ComprehensiveSRStorage) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid(), generate_uid()
    return ds


@pytest.fixture
def folder(tmp_path):
    Image.new("L", (64, 64), 40).save(tmp_path / "hips.png")
    with Project.open(tmp_path) as p:
        p.add_image(tmp_path / "hips.png")
    return tmp_path


def test_last_sent_survives_reopening_and_keeps_no_credentials(folder):
    first, sc, second = sent_dataset(), sent_dataset(SecondaryCaptureImageStorage), sent_dataset()
    with Project.open(folder) as p:
        image_id = p.images()[0].id
        assert last_sent(p, image_id) is None
        record_sent(p, image_id, first, "https://alice:s3cret@pacs.example:8042/dicom-web?access_token=tok123")
        record_sent(p, image_id, sc, "ORTHANC@10.0.0.5:4242")
        record_sent(p, image_id, second, "ORTHANC@10.0.0.5:4242")
    with Project.open(folder) as p:
        last = last_sent(p, image_id)
        assert last is not None
        assert (last.sop_uid, last.series_uid, last.study_uid) == (
            second.SOPInstanceUID, second.SeriesInstanceUID, second.StudyInstanceUID)
        assert last_sent(p, image_id, sop_class_uid=SecondaryCaptureImageStorage).sop_uid == sc.SOPInstanceUID
        servers = [r.server for r in sent_history(p, image_id)]
        assert servers == ["https://pacs.example:8042/dicom-web", "ORTHANC@10.0.0.5:4242", "ORTHANC@10.0.0.5:4242"]
    raw = b"".join(f.read_bytes() for f in (folder / ".hipvision").glob("project.sqlite*"))
    assert b"s3cret" not in raw and b"tok123" not in raw and b"alice" not in raw


def test_a_dataset_without_uids_is_not_recorded(folder):
    ds = sent_dataset()
    del ds.SeriesInstanceUID
    with Project.open(folder) as p:
        image_id = p.images()[0].id
        with pytest.raises(ValueError, match=f"image {image_id}: the sent dataset lacks SeriesInstanceUID"):
            record_sent(p, image_id, ds, "ORTHANC@pacs:4242")
        assert sent_history(p, image_id) == []


def _version_1_project(folder) -> None:
    """A project as HipVision wrote it before schema version 2 (no sent_reports), one image in it."""
    data = folder / ".hipvision"
    data.mkdir()
    conn = sqlite3.connect(data / "project.sqlite")
    for stmt in MIGRATIONS[0]:
        conn.execute(stmt)
    conn.execute("INSERT INTO images(path, split, added_at) VALUES ('old.png', 'train', '2024-01-01')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_a_version_1_project_gains_the_table_and_keeps_its_images(tmp_path):
    _version_1_project(tmp_path)

    with Project.open(tmp_path) as p:
        assert p._conn().execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
        (rec,) = p.images()
        assert rec.path == "old.png"
        record_sent(p, rec.id, sent_dataset(), "ORTHANC@pacs:4242")
        assert last_sent(p, rec.id) is not None


def test_a_version_1_project_in_a_folder_that_became_read_only_still_opens(tmp_path, monkeypatch):
    """A read-only folder's project cannot be upgraded: version 1 is read as it is (no sent_reports
    table: nothing was sent from it), not refused."""
    from hipvision.core import locations

    _version_1_project(tmp_path)
    monkeypatch.setattr(locations, "_folder_writable", lambda path: False)  # tests run as root
    with Project.open(tmp_path) as p:
        assert p.read_only
        assert p._conn().execute("PRAGMA user_version").fetchone()[0] == 1  # untouched
        (rec,) = p.images()
        assert sent_history(p, rec.id) == [] and last_sent(p, rec.id) is None
