"""The one project lookup: a folder's own database wins (read-only when the folder became
read-only), a read-only folder without one has its project in the user data dir, and opening
on a full disk or a broken journal ends in one line, not a traceback."""

import errno
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from hipvision.cli import main
from hipvision.core import locations, store
from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from hipvision.core.locations import ProjectLocation, has_project, locate_project
from hipvision.core.records import StoreError
from hipvision.core.store import Project, find_project

LM = HipLandmarks(left=SideLandmarks(60, 60, 10, 70, 45), right=SideLandmarks(140, 60, 10, 130, 45))


def make_read_only(folder: Path, monkeypatch) -> None:
    """Take write permission away from `folder` and everything in it. Root ignores permission
    bits, so for root the OS's answer is simulated where the lookup asks it."""
    for p in [folder, *folder.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    if os.geteuid() == 0:
        real = locations._folder_writable
        monkeypatch.setattr(locations, "_folder_writable",
                            lambda f: False if Path(f) == folder.resolve() else real(f))


@pytest.fixture
def userdata(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata"


@pytest.fixture
def restore_writable(tmp_path):
    yield
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


@pytest.fixture
def vet_project(tmp_path, userdata, restore_writable):
    """A folder whose project holds one image the vet corrected (a user revision)."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"not decoded here")
    with Project.open(folder) as p:
        rec = p.add_image(folder / "a.png")
        p.save_annotation(rec.id, LM, author="user")
    return folder


def test_a_writable_folder_keeps_its_project_inside(tmp_path, userdata):
    loc = locate_project(tmp_path)
    assert loc == ProjectLocation(tmp_path.resolve(), tmp_path.resolve() / ".hipvision")
    assert not loc.exists and loc.notice is None and not has_project(tmp_path)


def test_a_folder_that_became_read_only_is_found_and_opened_read_only(vet_project, userdata, monkeypatch):
    db = vet_project / ".hipvision" / "project.sqlite"
    before = db.read_bytes()
    make_read_only(vet_project, monkeypatch)

    loc = locate_project(vet_project)
    assert loc.exists and loc.read_only and not loc.fallback and loc.db == db.resolve()
    assert has_project(vet_project)
    project = find_project(vet_project)
    assert project is not None
    with project:
        assert project.read_only and project.db_path == db.resolve()
        # The vet's correction is what the lookup shows, not a fresh import.
        assert project.current_annotation(project.images()[0].id).author == "user"
        assert project.current_landmarks(project.images()[0].id) == LM
        with pytest.raises(StoreError, match="read-only.*edits cannot be saved"):
            project.save_annotation(project.images()[0].id, None)
    assert db.read_bytes() == before
    assert not userdata.exists()  # no second, silent project was made


def test_create_open_of_a_read_only_folder_reuses_its_database_not_a_fresh_one(vet_project, userdata, monkeypatch):
    # The GUI opens with create=True: it must land on the folder's database too.
    make_read_only(vet_project, monkeypatch)
    with Project.open(vet_project) as project:
        assert project.read_only and not project.fallback
        assert len(project.annotation_history(project.images()[0].id)) == 1
    assert not userdata.exists()


def test_the_folders_database_wins_over_a_stale_user_data_copy(vet_project, userdata, monkeypatch):
    # An older HipVision built a fresh project in the user data dir for this folder.
    stale = locations.fallback_data_dir(vet_project.resolve())
    stale.mkdir(parents=True)
    sqlite3.connect(stale / "project.sqlite").close()
    make_read_only(vet_project, monkeypatch)
    assert locate_project(vet_project).data_dir == (vet_project / ".hipvision").resolve()


def test_a_read_only_folder_without_a_project_gets_one_in_user_data(tmp_path, userdata, monkeypatch,
                                                                    restore_writable):
    folder = tmp_path / "cd"
    folder.mkdir()
    make_read_only(folder, monkeypatch)
    loc = locate_project(folder)
    assert loc.fallback and not loc.read_only and loc.data_dir.is_relative_to(userdata)
    assert not loc.exists and "kept in" in loc.notice
    Project.open(folder).close()
    assert has_project(folder) and locate_project(folder) == loc
    assert not (folder / ".hipvision").exists()


@pytest.mark.parametrize("journal", ["none", "pending"])
def test_read_only_without_a_shared_memory_file(vet_project, userdata, monkeypatch, journal):
    """In a folder nobody may write, `mode=ro` cannot make the -shm file. With no pending
    journal the database file is complete and is read immutable; with one, refuse in one line
    rather than show data without the latest edits."""
    db = vet_project / ".hipvision" / "project.sqlite"
    if journal == "pending":
        (db.parent / "project.sqlite-wal").write_bytes(b"\0" * 64)
    make_read_only(vet_project, monkeypatch)
    real_connect = sqlite3.connect
    uris = []

    def connect(target, *a, **kw):  # SQLite's answer in a read-only folder (checked by hand as non-root)
        uris.append(str(target))
        if "mode=ro" in str(target) and "immutable=1" not in str(target):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(target, *a, **kw)

    monkeypatch.setattr(store.sqlite3, "connect", connect)
    if journal == "none":
        with Project.open(vet_project, create=False) as project:
            assert project.current_landmarks(project.images()[0].id) == LM
        assert "immutable=1" in uris[-1]
    else:
        with pytest.raises(StoreError) as info:
            Project.open(vet_project, create=False)
        assert "project.sqlite-wal" in str(info.value) and "\n" not in str(info.value)


def test_opening_on_a_full_disk_is_one_line(tmp_path, userdata, monkeypatch, capsys):
    folder = tmp_path / "full"
    folder.mkdir()

    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "mkdir", full)
    assert main(["import", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"hipvision import: error: cannot create the project folder {folder.resolve() / '.hipvision'}: "
                   "No space left on device")


def test_a_database_that_fills_the_disk_is_one_line(tmp_path, userdata, monkeypatch, capsys):
    from hipvision.phantom import PhantomConfig, generate_phantoms

    folder = tmp_path / "p"
    generate_phantoms(folder, 12, seed=3, config=PhantomConfig(size=128))
    Project.open(folder).close()
    real_conn = Project._conn

    def capped(self):
        # SQLite's own full-disk answer: the database may not grow past the pages it has.
        conn = real_conn(self)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(Project, "_conn", capped)
    assert main(["import", str(folder)]) == 2
    err = capsys.readouterr().err
    db = folder.resolve() / ".hipvision" / "project.sqlite"
    assert err.strip().splitlines()[-1] == f"hipvision import: error: cannot write {db}: database or disk is full"
    assert "Traceback" not in err
    monkeypatch.undo()
    with Project.open(folder) as p:  # every transaction whole: the images, each label whole or absent
        assert len(p.images()) == 12 and p.integrity_check() == "ok"
