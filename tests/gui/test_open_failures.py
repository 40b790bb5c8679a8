"""Opening a folder never takes the window down (#16 items 1 and 8): a folder that cannot be
opened is a banner naming the file and the reason, the window stays on the start screen or the
previous project, an import cut short is finished on the next open, Rescan reports its
failures the same way, and closing with a database that cannot be written still closes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from hipvision.core.importer import PENDING_IMPORT
from hipvision.core.store import Project
from tests.gui.conftest import N_PHANTOMS, make_project, open_window

REPO = Path(__file__).resolve().parents[2]


def copy_images(src: Path, dest: Path, n: int | None = None) -> Path:
    dest.mkdir(parents=True)
    for f in sorted(src.glob("*.png"))[:n]:
        shutil.copy2(f, dest / f.name)
    return dest


def read_only_database(monkeypatch) -> None:
    """Every write to any project database fails as SQLite fails on a read-only file (chmod
    cannot do it here: the tests run as root, who may write anything)."""
    real = Project._conn

    def conn(self):
        c = real(self)
        c.execute("PRAGMA query_only=ON")
        return c

    monkeypatch.setattr(Project, "_conn", conn)


def disk_full_after(monkeypatch, n_images: int) -> None:
    """The disk fills up after `n_images` images are recorded (what SQLite says then)."""
    real = Project.add_image
    done = []

    def add_image(self, *args, **kwargs):
        if len(done) >= n_images:
            raise sqlite3.OperationalError("database or disk is full")
        done.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "add_image", add_image)


def test_broken_annotations_json_opens_the_images_and_names_the_file(qtbot, tmp_path, phantom_folder):
    folder = copy_images(phantom_folder, tmp_path / "one", 1)
    (folder / "annotations.json").write_text("[1]\n")
    win = open_window(qtbot, folder)
    assert len(win.project.images()) == 1 and win.canvas.loaded is not None
    assert win.banner.isVisible()
    assert "1 label entry rejected" in win.banner_message
    assert str(folder / "annotations.json") in win.banner_message


def test_hostile_label_entry_is_named_and_the_good_ones_come_in(qtbot, tmp_path, phantom_folder):
    folder = copy_images(phantom_folder, tmp_path / "hostile")
    data = json.loads((phantom_folder / "annotations.json").read_text())
    data["images"][1]["right_on_image_left"] = "false"  # a string must not swap the hips
    data["annotations"][0]["keypoints"][0] = float("nan")  # json writes NaN; no coordinate is NaN
    (folder / "annotations.json").write_text(json.dumps(data))
    win = open_window(qtbot, folder)
    assert len(win.project.images()) == N_PHANTOMS
    # image 2 is left out, and with it its annotation 2; annotation 1 for its NaN.
    assert win.banner.isVisible() and win.banner_message == (
        f"3 label entries rejected: {folder / 'annotations.json'}: image 2: right_on_image_left must be true or "
        "false, got 'false' and 2 more")
    labelled = [r for r in win.project.images() if win.project.current_annotation(r.id) is not None]
    assert len(labelled) == N_PHANTOMS - 2


def test_a_huge_label_value_is_clipped_in_the_banner(qtbot, tmp_path, phantom_folder):
    folder = copy_images(phantom_folder, tmp_path / "long", 1)
    data = json.loads((phantom_folder / "annotations.json").read_text())
    data["images"][0]["right_on_image_left"] = "y" * 100_000  # quoted back in the reason
    (folder / "annotations.json").write_text(json.dumps(data))
    win = open_window(qtbot, folder)
    assert win.banner_message.startswith(f"2 label entries rejected: {folder / 'annotations.json'}: image 1: ")
    assert win.banner_message.endswith("yyy… and 1 more") and len(win.banner_message) < 400


def test_file_name_that_is_not_utf8_is_named_and_the_rest_opens(qtbot, tmp_path, phantom_folder):
    folder = copy_images(phantom_folder, tmp_path / "names", 2)
    shutil.copy2(folder / "phantom_0000.png", os.fsencode(folder) + b"/bad\xff.png")
    win = open_window(qtbot, folder)
    assert len(win.project.images()) == 2
    assert "1 file not imported: bad\\xff.png (the file name is not valid UTF-8" in win.banner_message


def test_folder_path_that_is_not_utf8_is_refused_up_front(qtbot, tmp_path, phantom_folder):
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/dir\xff")
    copy_images(phantom_folder, Path(folder), 1)
    win = open_window(qtbot, None)
    assert not win.open_project(folder)
    assert win.banner_message == f"Cannot open {tmp_path}/dir\\xff: the folder's path is not valid UTF-8; rename it"
    assert win.project is None and win.stack.currentWidget() is win.start_screen


def test_unwritable_database_is_a_banner_and_the_previous_project_stays(qtbot, tmp_path, phantom_folder,
                                                                        project_dir, monkeypatch):
    fresh = copy_images(phantom_folder, tmp_path / "fresh", 2)
    Project.open(fresh).close()  # a database made, nothing imported yet, then made read-only
    win = open_window(qtbot, None)
    read_only_database(monkeypatch)
    assert not win.open_project(fresh)
    db = fresh / ".hipvision" / "project.sqlite"
    assert win.banner_message == f"Cannot open {fresh}: cannot write {db}: attempt to write a readonly database"
    assert win.banner.isVisible() and win.project is None and win.stack.currentWidget() is win.start_screen
    monkeypatch.undo()
    assert win.open_project(project_dir)  # the window is still usable
    read_only_database(monkeypatch)
    assert not win.open_project(fresh)
    assert Path(win.project.root) == project_dir.resolve() and win.canvas.loaded is not None
    assert win.windowTitle() == f"HipVision — {project_dir.name}"


# `hipvision import FOLDER` killed (SIGKILL: nothing after it runs) once 2 images are in.
KILLED_IMPORT = """
import os, signal, sys
from hipvision.core.importer import import_folder
from hipvision.core.store import Project
def progress(done, total, name):
    if done == 2:
        os.kill(os.getpid(), signal.SIGKILL)
with Project.open(sys.argv[1]) as project:
    import_folder(project, progress=progress)
"""


def test_interrupted_import_is_finished_on_the_next_open(qtbot, tmp_path, phantom_folder, monkeypatch):
    import hipvision.gui.project_open as project_open

    folder = copy_images(phantom_folder, tmp_path / "cut", None)
    shutil.copy2(phantom_folder / "annotations.json", folder)
    r = subprocess.run([sys.executable, "-c", KILLED_IMPORT, str(folder)], env=dict(os.environ, PYTHONPATH=str(REPO)),
                       capture_output=True, timeout=60)
    assert r.returncode == -9
    with Project.open(folder) as project:
        assert len(project.images()) == 2 and project.get_setting(PENDING_IMPORT) == {"labels": True}
    win = open_window(qtbot, folder)
    assert len(win.project.images()) == N_PHANTOMS
    assert all(win.project.current_annotation(r.id) is not None for r in win.project.images())
    assert win.project.get_setting(PENDING_IMPORT) is None
    imports = []
    monkeypatch.setattr(project_open, "import_folder", lambda *a, **k: imports.append(a))
    win.close_project()
    assert win.open_project(folder) and imports == []  # finished: not imported again


def test_rescan_after_a_failed_open_reports_instead_of_raising(qtbot, tmp_path, phantom_folder, monkeypatch):
    folder = copy_images(phantom_folder, tmp_path / "full", None)
    win = open_window(qtbot, None)
    disk_full_after(monkeypatch, 2)
    assert not win.open_project(folder)
    assert win.banner_message.endswith(f"{folder / '.hipvision' / 'project.sqlite'}: database or disk is full")
    assert win.stack.currentWidget() is win.start_screen
    monkeypatch.undo()
    assert win.open_project(folder)  # the disk has room again: the import is finished
    assert len(win.project.images()) == N_PHANTOMS
    (folder / "more.png").write_bytes((folder / "phantom_0000.png").read_bytes())
    disk_full_after(monkeypatch, 0)
    win.actions["rescan"].trigger()  # File > Rescan, as the menu runs it; pytest-qt fails on a raise
    assert win.banner_message == (f"Rescan of {folder} failed: {folder / '.hipvision' / 'project.sqlite'}: "
                                  "database or disk is full")
    assert win.project is not None and len(win.image_list._items) == N_PHANTOMS
    monkeypatch.undo()
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    win.actions["rescan"].trigger()
    assert win.status_text.text().startswith("Rescanned: 1 added")
    assert win.banner_message.startswith("1 file not imported: broken.png (")
    assert len(win.image_list._items) == N_PHANTOMS + 2  # the broken one is listed, with its reason


def test_close_with_an_unwritable_database_still_closes(qtbot, project_dir, monkeypatch):
    win = open_window(qtbot, project_dir)
    read_only_database(monkeypatch)
    win.close()  # pytest-qt fails the test if closeEvent raises
    assert not win.isVisible() and win.project is None
    db = project_dir / ".hipvision" / "project.sqlite"
    unwritable = f"cannot write {db}: attempt to write a readonly database"
    assert win.close_problem == f"Could not save the image shown: {unwritable}"


# A `hipvision gui` process whose project databases refuse every write (see read_only_database).
READ_ONLY_GUI = """
import sys
from hipvision.core.store import Project
real = Project._conn
def conn(self):
    c = real(self)
    c.execute("PRAGMA query_only=ON")
    return c
Project._conn = conn
from hipvision.cli import main
sys.exit(main(["gui", *sys.argv[1:]]))
"""


def run_gui(tmp_path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               HIPVISION_CONFIG_DIR=str(tmp_path / "config"), HIPVISION_DATA_DIR=str(tmp_path / "userdata"))
    return subprocess.run([sys.executable, "-c", READ_ONLY_GUI, *map(str, args)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_screenshot_with_an_unwritable_database_exits_with_one_line(tmp_path, phantom_folder):
    from hipvision.ml.app_jobs import ensure_default_model

    project = make_project(phantom_folder, tmp_path / "existing")
    with Project.open(project) as p:  # as a first open in the GUI leaves it: else the engine's
        ensure_default_model(p)       # first job fails too (its report is the engine's business)
    shot = tmp_path / "shot.png"
    r = run_gui(tmp_path, project, "--screenshot", shot, "--size", "640x480")
    db = project / ".hipvision" / "project.sqlite"
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "QThread: Destroyed" not in r.stderr
    assert r.stdout.strip() == f"wrote {shot}" and shot.stat().st_size > 0
    said = [line for line in r.stderr.splitlines() if str(db) in line]
    unwritable = f"cannot write {db}: attempt to write a readonly database"
    assert said == [f"hipvision gui: warning: Could not save the image shown: {unwritable}"]
    # A folder never imported cannot be: refused with the reason, the engine stopped cleanly.
    fresh = copy_images(phantom_folder, tmp_path / "fresh", 1)
    r = run_gui(tmp_path, fresh, "--screenshot", tmp_path / "fresh.png")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "QThread: Destroyed" not in r.stderr
    assert (f"hipvision gui: Cannot open {fresh}: {fresh / '.hipvision' / 'project.sqlite'}: "
            "cannot open project database: attempt to write a readonly database") in r.stderr.splitlines()
    assert not (tmp_path / "fresh.png").exists()


def test_gui_on_a_file_the_import_refuses_opens_its_folder_and_says_why(tmp_path, phantom_folder):
    """`hipvision gui FILE` ('Open with HipVision') on a symlink out of its folder: the folder
    opens and is saved, the file is named with the reason, exit 2 — never an abort."""
    from hipvision.ml.app_jobs import ensure_default_model

    folder = copy_images(phantom_folder, tmp_path / "f", 1)
    outside = tmp_path / "outside.png"
    shutil.copy2(next(folder.glob("*.png")), outside)
    (folder / "link_out.png").symlink_to(outside)
    with Project.open(folder) as p:
        ensure_default_model(p)
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               HIPVISION_CONFIG_DIR=str(tmp_path / "config"), HIPVISION_DATA_DIR=str(tmp_path / "userdata"))
    r = subprocess.run([sys.executable, "-m", "hipvision", "gui", str(folder / "link_out.png"), "--screenshot",
                        str(shot), "--size", "640x480"], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "QThread: Destroyed" not in r.stderr
    assert r.stdout.strip() == f"wrote {shot}" and shot.stat().st_size > 0
    assert (f"hipvision gui: link_out.png: not in the project: a symlink to {outside.resolve()}, outside the "
            "imported folder; not followed") in r.stderr.splitlines()
