"""Atomic writes: the file's data and the folder entry of the rename both reach the disk."""

import os
import stat

from hipvision.core import atomic


def test_the_data_and_the_folder_entry_are_synced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    target = tmp_path / "out.csv"
    atomic.write_text_atomic(target, "a,b\n")
    assert target.read_text() == "a,b\n"
    assert synced == [False, True]  # first the file, then the folder holding the renamed entry
    assert not list(tmp_path.glob(".out.csv.*.tmp"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~atomic._umask()  # not mkstemp's 0600
