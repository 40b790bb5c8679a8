"""What interrupted runs leave in a project's models folder is found and removed; a registered
model, a live run's files and files that are not a run's never are."""

import json
import os
import shutil
import subprocess
import sys
import time

from hipvision.cli import main
from hipvision.core.store import Project
from hipvision.ml.leftovers import find_leftovers, lock_path, remove_leftovers, run_lock


def _age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def seed_leftovers(project) -> tuple[set, set]:
    """(names that are leftovers, names that must stay), all written an hour ago."""
    models = project.models_dir
    registered = project.active_model().abs_file
    pair = models / "keypoints-20240101-000000.safetensors"  # killed between save and register
    shutil.copy(registered, pair)
    shutil.copy(registered.with_suffix(".json"), pair.with_suffix(".json"))
    files = {
        ".keypoints-20240101-000000.state.pt.a1b2c3.tmp": b"x" * 100,  # killed inside torch.save
        ".model-20240102-000000-77.safetensors.zz_9.tmp": b"x",  # killed inside save_file
        "keypoints-20240101-000001.state.pt": b"older state",
        "keypoints-20240101-000002.state.pt": b"newest state",  # --resume continues this one
        ".keypoints-20240103-000000.lock": json.dumps({"pid": _dead_pid(), "host": os.uname().nodename}),
        # a live run's files (this process holds its lock)
        "keypoints-20240104-000000.state.pt": b"live state",
        ".keypoints-20240104-000000.safetensors.q1.tmp": b"live",
        ".keypoints-20240104-000000.lock": json.dumps({"pid": os.getpid(), "host": os.uname().nodename}),
        "notes.json": b'{"mine": true}',  # a user's file, not a sidecar
        "README.txt": b"hello",
    }
    for name, data in files.items():
        (models / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    ages = {"keypoints-20240101-000001.state.pt": 7200, "keypoints-20240101-000002.state.pt": 3600}
    for p in models.iterdir():
        _age(p, ages.get(p.name, 3600 + 60))
    gone = {pair.name, pair.with_suffix(".json").name, ".keypoints-20240101-000000.state.pt.a1b2c3.tmp",
            ".model-20240102-000000-77.safetensors.zz_9.tmp", "keypoints-20240101-000001.state.pt",
            ".keypoints-20240103-000000.lock"}
    stay = {registered.name, registered.with_suffix(".json").name, "keypoints-20240101-000002.state.pt",
            "keypoints-20240104-000000.state.pt", ".keypoints-20240104-000000.safetensors.q1.tmp",
            ".keypoints-20240104-000000.lock", "notes.json", "README.txt"}
    return gone, stay


def test_leftovers_are_found_and_removed_and_nothing_else(project_dir):
    with Project.open(project_dir) as p:
        gone, stay = seed_leftovers(p)
        assert {x.path.name for x in find_leftovers(p)} == gone
        # files newer than the job that looks are not its to judge
        assert {x.path.name for x in find_leftovers(p, before=time.time() - 5000)} == \
            {"keypoints-20240101-000001.state.pt"}
        removed = remove_leftovers(p)
        assert {x.path.name for x in removed} == gone
        assert {f.name for f in p.models_dir.iterdir()} == stay
        assert sum(x.size for x in removed) > 0
        assert p.active_model().abs_file.is_file()


def test_run_lock_is_held_for_the_block_and_kept_by_the_outer_holder(tmp_path):
    out = tmp_path / "m.safetensors"
    with run_lock(out):
        assert lock_path(out).is_file()
        with run_lock(out):  # the retrain job around its training
            pass
        assert lock_path(out).is_file()
    assert not lock_path(out).exists()


def test_models_lists_leftovers_and_clean_removes_them(project_dir, capsys):
    with Project.open(project_dir) as p:
        gone, stay = seed_leftovers(p)
        models = p.models_dir
    assert main(["models", str(project_dir)]) == 0
    out = capsys.readouterr().out
    assert "Left by interrupted runs (6 file(s)" in out and "--clean` removes them" in out
    assert all(name in out for name in gone)
    assert {f.name for f in models.iterdir()} == gone | stay  # listing deletes nothing
    assert main(["models", str(project_dir), "--clean"]) == 0
    assert "Removed 6 file(s)" in capsys.readouterr().out
    assert {f.name for f in models.iterdir()} == stay
    assert main(["models", str(project_dir), "--clean"]) == 0
    assert "Nothing to clean" in capsys.readouterr().out
