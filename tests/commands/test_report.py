"""`hipvision report PROJECT [--images ...] --out FILE.pdf`."""

from __future__ import annotations

import re

import pytest

from hipvision.cli import main
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import make_project


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out, 3, seed=9, config=PhantomConfig(size=300))
    return out


def pages(path) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", path.read_bytes()))


def test_report_all_or_selected_images(qapp, tmp_path, phantoms, capsys, monkeypatch):
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "config"))
    folder = make_project(phantoms, tmp_path / "p")
    out = tmp_path / "all.pdf"
    assert main(["report", str(folder), "--out", str(out)]) == 0
    assert "3 pages" in capsys.readouterr().out and pages(out) == 3
    one = tmp_path / "one.pdf"
    assert main(["report", str(folder), "--images", "phantom_0002.png", "--out", str(one)]) == 0
    assert pages(one) == 1
    assert main(["report", str(folder), "--out", str(tmp_path / "r.txt")]) == 2
    assert "must end in .pdf" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing"), "--out", str(out)]) == 2
