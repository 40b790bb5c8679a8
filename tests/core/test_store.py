import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.core.schema import SCHEMA_VERSION
from hipvision.core.store import Project, StoreError


def lm(dx=0.0):
    return HipLandmarks(left=SideLandmarks(700 + dx, 500, 60, 760, 440), right=SideLandmarks(300, 500, 60, 240, 440))


@pytest.fixture
def project(tmp_path):
    for i in range(20):
        (tmp_path / f"img_{i:02d}.png").write_bytes(b"x")
    p = Project.open(tmp_path)
    yield p
    p.close()


def add_all(project):
    return [project.add_image(f, sha256=f"{i:064x}") for i, f in enumerate(sorted(project.root.glob("*.png")))]


def test_schema_and_wal(project):
    conn = project._conn()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (project.root / ".hipvision" / "project.sqlite").exists()
    assert project.integrity_check() == "ok"


def test_splits_balanced_fixed_and_synthetic_only_train(project):
    recs = add_all(project)
    counts = {s: sum(r.split == s for r in recs) for s in ("train", "val", "test")}
    assert counts == {"train": 14, "val": 3, "test": 3}
    # Re-adding (file changed) keeps the split.
    again = project.add_image(recs[0].abs_path, sha256="f" * 64)
    assert again.split == recs[0].split and again.id == recs[0].id
    syn_file = project.synthetic_dir / "a.png"
    syn_file.write_bytes(b"x")
    syn = project.add_synthetic(syn_file, method="conditional", generator="g", seed=1, landmarks=lm(), condition=lm())
    assert syn.split == "train" and syn.source == "synthetic" and syn.path.startswith("@data/")
    assert syn.status == "verified" and project.synthetic_info(syn.id).condition == lm()
    # The database itself refuses a synthetic image in val/test, whatever code tries.
    with pytest.raises(sqlite3.IntegrityError):
        with project.transaction() as c:
            c.execute("UPDATE images SET split='val' WHERE id=?", (syn.id,))
    # Asking for a synthetic image in test is ignored: synthetic is always train.
    other = project.synthetic_dir / "b.png"
    other.write_bytes(b"x")
    assert project.add_image(other, source="synthetic", split="test").split == "train"


def test_revisions_append_only_and_current(project):
    rec = add_all(project)[0]
    assert project.current_annotation(rec.id) is None
    assert project.save_prediction(rec.id, lm(1), model_id=3, confidence={"left_head": 0.9})
    assert project.image(rec.id).status == "predicted"
    a = project.save_annotation(rec.id, lm(2))
    assert a.author == "user" and project.image(rec.id).status == "edited"
    project.save_annotation(rec.id, lm(3))
    hist = project.annotation_history(rec.id)
    assert [h.author for h in hist] == ["model:3", "user", "user"]
    assert project.current_landmarks(rec.id) == lm(3)
    assert project.latest_model_annotation(rec.id).landmarks == lm(1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with project.transaction() as c:
            c.execute("UPDATE annotations SET author='x'")
    # Clearing is a revision too.
    project.save_annotation(rec.id, None)
    assert project.current_landmarks(rec.id) is None and len(project.annotation_history(rec.id)) == 4


def test_prediction_never_overwrites_user_edit(project):
    rec = add_all(project)[0]
    project.save_annotation(rec.id, lm(5))
    assert project.save_prediction(rec.id, lm(9), model_id=1) is False
    assert project.current_landmarks(rec.id) == lm(5)
    project.set_status(rec.id, "verified")
    assert project.save_prediction(rec.id, lm(9), model_id=1) is False
    with pytest.raises(StoreError, match="save_prediction"):
        project.save_annotation(rec.id, lm(9), author="model:1")


def test_labelled_uses_person_backed_annotations_only(project):
    recs = [r for r in add_all(project) if r.split == "train"]
    project.save_prediction(recs[0].id, lm(), model_id=1)
    project.save_annotation(recs[1].id, lm())
    project.save_annotation(recs[2].id, lm(), author="import:annotations.json")
    got = {r.id for r, _ in project.labelled(("train",))}
    assert got == {recs[1].id, recs[2].id}


def test_models_one_active(project, tmp_path):
    f = project.models_dir / "m1.safetensors"
    f.write_bytes(b"x")
    m1 = project.add_model(name="m1", backbone="resnet18", file=f, activate=True, metrics={"na_mae": 1.5})
    m2 = project.add_model(name="m2", backbone="resnet18", file=f, activate=True)
    assert project.active_model().id == m2.id and m1.file == "models/m1.safetensors"
    project.set_active_model(m1.id)
    assert [m.active for m in project.models()] == [True, False]
    with pytest.raises(StoreError, match="is active"):
        project.delete_model(m1.id)
    project.delete_model(m2.id, delete_file=False)
    assert [m.id for m in project.models()] == [m1.id]
    assert project.active_model().metrics == {"na_mae": 1.5}


def test_mapping_and_settings(project):
    rec = add_all(project)[0]
    project.set_mapping(rec.id, SideMapping(False))
    assert project.image(rec.id).mapping == SideMapping(False)
    project.set_setting("split_fractions", {"train": 0.5, "val": 0.25, "test": 0.25})
    assert project.get_setting("split_fractions")["val"] == 0.25


def test_two_threads_write_concurrently(project):
    recs = add_all(project)
    errors = []

    def worker(author_kind, ids):
        try:
            for i in range(40):
                for rid in ids:
                    if author_kind == "user":
                        project.save_annotation(rid, lm(i))
                    else:
                        project.save_prediction(rid, lm(-i), model_id=7)
                    project.current_annotation(rid)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    gui = threading.Thread(target=worker, args=("user", [r.id for r in recs[:5]]))
    engine = threading.Thread(target=worker, args=("model", [r.id for r in recs[3:10]]))
    gui.start(), engine.start()
    gui.join(), engine.join()
    assert errors == []
    for r in recs[:5]:  # the user's images end with the user's last edit, whatever the engine did
        assert project.current_landmarks(r.id) == lm(39)
    for r in recs[5:10]:
        assert project.image(r.id).status == "predicted"
    assert project.integrity_check() == "ok"


def test_killed_writer_loses_no_committed_edit(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    with Project.open(tmp_path) as p:
        image_id = p.add_image(tmp_path / "a.png").id
    script = textwrap.dedent(f"""
        import sys
        from hipvision.core.store import Project
        from hipvision.core.landmarks import HipLandmarks, SideLandmarks
        p = Project.open({str(tmp_path)!r})
        i = 0
        while True:
            lm = HipLandmarks(left=SideLandmarks(700 + i, 500, 60, 760, 440),
                              right=SideLandmarks(300, 500, 60, 240, 440))
            p.save_annotation({image_id}, lm)
            print(i, flush=True)
            i += 1
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    last = -1
    deadline = time.monotonic() + 60
    while last < 30 and time.monotonic() < deadline:
        last = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)  # mid-write, most likely inside the next transaction
    child.wait()
    assert last >= 30
    with Project.open(tmp_path) as p:
        assert p.integrity_check() == "ok"
        hist = p.annotation_history(image_id)
        # Every edit reported as saved is there; the one in flight is either whole or absent.
        assert len(hist) >= last + 1
        assert hist[last].landmarks.left.head_x == 700 + last


def test_read_only_folder_falls_back_to_user_data_dir(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        # root ignores permission bits; simulate the OS's answer instead.
        monkeypatch.setattr("hipvision.core.locations._folder_writable", lambda folder: False)
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"x")
    folder.chmod(0o555)
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))
    try:
        with Project.open(folder) as p:
            assert p.fallback and str(p.data_dir).startswith(str(tmp_path / "userdata"))
            p.add_image(folder / "a.png")
        assert not (folder / ".hipvision").exists()
        with Project.open(folder) as p:  # reopening finds the same fallback project
            assert len(p.images()) == 1
    finally:
        folder.chmod(0o755)


def test_newer_schema_is_refused(tmp_path):
    with Project.open(tmp_path) as p:
        p._conn().execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(Exception, match="newer than this HipVision supports"):
        Project.open(tmp_path)


def test_open_missing_project_without_create(tmp_path):
    with pytest.raises(StoreError, match="no HipVision project"):
        Project.open(tmp_path, create=False)
    with pytest.raises(StoreError, match="not a folder"):
        Project.open(tmp_path / "nope")


def test_mapping_saved_with_annotation_in_one_transaction(project):
    rec = add_all(project)[0]
    project.save_annotation(rec.id, lm().swapped(), mapping=SideMapping(False))
    assert project.image(rec.id).mapping == SideMapping(False)
    assert project.current_landmarks(rec.id) == lm().swapped()


def test_unreadable_file_keeps_a_persons_status(project):
    rec = add_all(project)[0]
    project.save_annotation(rec.id, lm())
    again = project.add_image(rec.abs_path, error="truncated PNG")
    assert again.status == "edited" and again.error == "truncated PNG"
    other = add_all(project)[1]
    assert project.add_image(other.abs_path, error="gone").status == "error"
    assert project.add_image(other.abs_path, sha256="1" * 64).status == "new"


def test_deleting_a_model_never_removes_a_file_outside_the_data_dir(project, tmp_path):
    """A hostile project.sqlite whose models.file leads out of the data dir ("../../victim")."""
    victim = project.data_dir.parent.parent / "victim.safetensors"
    victim.write_bytes(b"someone else's model")
    victim.with_suffix(".json").write_text("{}")
    inside = project.models_dir / "mine.safetensors"
    inside.write_bytes(b"x")
    m = project.add_model(name="m", backbone="resnet18", file=inside)
    rel = os.path.relpath(victim, project.data_dir)
    assert rel.startswith("..")
    with project.transaction() as c:
        c.execute("UPDATE models SET file=? WHERE id=?", (rel, m.id))
    project.delete_model(m.id)
    assert victim.is_file() and victim.with_suffix(".json").is_file()
    assert m.id not in [x.id for x in project.models()]
