"""One odd image file (a non-UTF-8 name, a symlink out of the folder) is reported by name with
a reason; the rest of the folder imports."""

from __future__ import annotations

import os

from hipvision.cli import main
from hipvision.core.importer import import_folder
from hipvision.core.store import Project
from tests.robustness.conftest import N_IMAGES


def test_non_utf8_file_name_is_reported_and_the_rest_imports(phantom_folder, capsys):
    png = (phantom_folder / "phantom_0000.png").read_bytes()
    with open(os.path.join(os.fsencode(str(phantom_folder)), b"bad\xff.png"), "wb") as f:
        f.write(png)
    with Project.open(phantom_folder) as project:
        report = import_folder(project)
    assert len(report.added) == N_IMAGES and report.labels_imported == N_IMAGES
    ((name, reason),) = report.errors
    assert name == "bad\\xff.png" and "UTF-8" in reason
    assert main(["import", str(phantom_folder)]) == 0
    assert "unreadable: bad\\xff.png: " in capsys.readouterr().out


def test_symlink_out_of_the_folder_is_skipped(phantom_folder, tmp_path, capsys):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes((phantom_folder / "phantom_0001.png").read_bytes())
    (phantom_folder / "link.png").symlink_to(outside)
    with Project.open(phantom_folder) as project:
        report = import_folder(project)
        paths = {rec.path for rec in project.images()}
    assert len(report.added) == N_IMAGES and report.labels_imported == N_IMAGES
    ((name, reason),) = report.errors
    assert name == "link.png" and "symlink" in reason and "outside" in reason
    assert "link.png" not in paths
    assert main(["import", str(phantom_folder)]) == 0
    assert "unreadable: link.png: a symlink" in capsys.readouterr().out
