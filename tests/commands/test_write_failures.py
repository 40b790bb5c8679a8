"""Every command's output on a full disk or a read-only folder: exit 2, one line
`hipvision CMD: error: cannot write PATH: reason`, no traceback, the old file untouched and no
temporary file left beside it."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from hipvision.cli import main
from hipvision.core import atomic
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import make_project
from tests.ml.conftest import phantom_cases, phantom_samples, tiny_model  # noqa: F401 (fixtures)

TINY_TRAIN = ["--backbone", "test_resnet", "--input-size", "64", "--crop-size", "64", "--epochs", "1",
              "--batch-size", "2", "--no-pretrained", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out, 4, seed=21, config=PhantomConfig(size=160))
    return out


@pytest.fixture(scope="module")
def project(phantoms, tmp_path_factory):
    return make_project(phantoms, tmp_path_factory.mktemp("wf") / "p")


def inject(monkeypatch, where: str, code: int) -> None:
    """Make the atomic writer fail the way the OS does: no room for the temporary file, no space
    left once the data is written (fsync: where a full disk shows up mid-write), or a folder
    turned read-only before the rename."""
    reason = os.strerror(code)
    if where == "create":
        def mkstemp(*a, dir=None, **kw):
            raise OSError(code, reason, os.path.join(dir, ".x.tmp"))
        monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    elif where == "mid-write":
        real = os.fsync

        def fsync(fd):
            name = f"/proc/self/fd/{fd}"
            # A run's tiny lock file (written first) gets through: the disk fills up with the data.
            if os.path.isfile(name) and os.fstat(fd).st_size > 0 and ".lock" not in os.readlink(name):
                raise OSError(code, reason)  # the data went into the temporary file, then the disk was full
            return real(fd)
        monkeypatch.setattr(atomic.os, "fsync", fsync)
    else:
        def replace(src, dst):
            raise OSError(code, reason, str(src), str(dst))
        monkeypatch.setattr(atomic.os, "replace", replace)


def check_failed(capsys, command: str, out, reason: str) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"hipvision {command}: error: cannot write {out}: {reason}"
    assert out.read_bytes() == b"old"  # nothing half-written over the old file
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # and no temporary file left


def commands(project, model, out):
    return {
        "export-csv": ["export", str(project), "--out", str(out)],
        "export-coco": ["export", str(project), "--format", "coco", "--out", str(out)],
        "measure": ["measure", str(project / "truth.csv"), "--out", str(out)],
        "predict": ["predict", str(project / "phantom_0000.png"), "--model", str(model), "--no-tta",
                    "--device", "cpu", "--out", str(out)],
        "evaluate": ["evaluate", str(project), "--model", str(model), "--split", "train", "--split", "val",
                     "--split", "test", "--no-tta", "--device", "cpu", "--csv", str(out)],
        "report": ["report", str(project), "--out", str(out)],
        "render": ["render", str(project / "phantom_0000.png"), "--out", str(out)],
    }


SUFFIX = {"export-coco": ".json", "report": ".pdf", "render": ".png"}


@pytest.mark.parametrize("name", ["export-csv", "export-coco", "measure", "predict", "evaluate", "report", "render"])
def test_a_full_disk_mid_write_is_one_line_and_leaves_the_old_file(name, project, tiny_model, tmp_path, monkeypatch,
                                                                  capsys, qapp):
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "config"))
    out = tmp_path / "out" / f"result{SUFFIX.get(name, '.csv')}"
    out.parent.mkdir()
    out.write_bytes(b"old")
    argv = commands(project, tiny_model.checkpoint, out)[name]
    inject(monkeypatch, "mid-write", errno.ENOSPC)
    assert main(argv) == 2
    check_failed(capsys, argv[0], out, "No space left on device")


@pytest.mark.parametrize("where, code", [("create", errno.EACCES), ("mid-write", errno.ENOSPC),
                                         ("rename", errno.EROFS)])
def test_each_way_a_write_fails_is_one_line(where, code, project, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out" / "x.csv"
    out.parent.mkdir()
    out.write_bytes(b"old")
    inject(monkeypatch, where, code)
    assert main(["export", str(project), "--out", str(out)]) == 2
    check_failed(capsys, "export", out, os.strerror(code))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_a_really_read_only_folder(project, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    out = folder / "x.csv"
    out.write_bytes(b"old")
    folder.chmod(0o555)
    try:
        assert main(["export", str(project), "--out", str(out)]) == 2
        check_failed(capsys, "export", out, "Permission denied")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("failure", ["torch", "oserror"])
def test_train_on_a_full_disk_names_the_file(failure, phantoms, tmp_path, monkeypatch, capsys):
    out = tmp_path / "models" / "m.safetensors"
    out.parent.mkdir()
    state = out.with_name("m.state.pt")
    if failure == "torch":
        def save(obj, f, *a, **kw):
            with open(f, "wb") as fh:
                fh.write(b"PK\x03\x04 partial")  # torch's writer fails part-way with a RuntimeError
            raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing "
                               "file data/0: file write failed\nframe #0: c10::Error::Error")
        monkeypatch.setattr(torch, "save", save)
        reason = "[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file data/0: " \
                 "file write failed"
    else:
        inject(monkeypatch, "mid-write", errno.ENOSPC)
        reason = "No space left on device"
    assert main(["train", str(phantoms), *TINY_TRAIN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"hipvision train: error: cannot write {state}: {reason}"
    assert list(out.parent.iterdir()) == []  # no model, no state, no temporary file
