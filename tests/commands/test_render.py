"""`hipvision render IMAGE --out FILE.png`: the annotated radiograph, drawn offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from hipvision.annotation.overlay_geometry import build_overlay
from hipvision.cli import main
from hipvision.core.grading import GRADE_COLOURS
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import make_project


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out, 2, seed=8, config=PhantomConfig(size=360))
    return out


def rgb(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3)


def test_render_draws_the_stored_landmarks(qapp, tmp_path, phantoms, capsys):
    folder = make_project(phantoms, tmp_path / "p")
    image = folder / "phantom_0000.png"
    out = tmp_path / "out" / "annotated.png"
    assert main(["render", str(image), "--out", str(out)]) == 0  # the project is found from the image
    assert "wrote" in capsys.readouterr().out
    img = QImage(str(out))
    src = QImage(str(image))
    assert (img.width(), img.height()) == (src.width(), src.height())
    with Project.open(folder) as p:
        rec = p.image_by_path("phantom_0000.png")
        overlay = build_overlay(p.current_landmarks(rec.id), rec.mapping)
    arr = rgb(img).astype(int)
    for s in overlay.sides:  # each hip's arc and label are drawn in its grade colour
        c = QColor(GRADE_COLOURS[s.grade])
        hit = np.abs(arr - [c.red(), c.green(), c.blue()]).sum(axis=2) < 30
        ys, xs = np.nonzero(hit)
        assert len(xs) > 20
        assert np.min(np.hypot(xs - s.head[0], ys - s.head[1])) < 2 * s.radius

    small = tmp_path / "small.jpg"
    assert main(["render", "phantom_0001.png", "--project", str(folder), "--max-side", "120", "--out", str(small)]) == 0
    assert max(QImage(str(small)).width(), QImage(str(small)).height()) == 120


def test_render_errors_name_the_problem(qapp, tmp_path, phantoms, capsys):
    folder = make_project(phantoms, tmp_path / "p")
    assert main(["render", "nope.png", "--project", str(folder), "--out", str(tmp_path / "x.png")]) == 2
    assert "nope.png: not an image of the project" in capsys.readouterr().err
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "a.png").write_bytes((phantoms / "phantom_0000.png").read_bytes())
    assert main(["render", str(lone / "a.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert "no HipVision project" in capsys.readouterr().err
    assert main(["render", str(folder / "phantom_0000.png"), "--out", str(tmp_path / "x.bmp")]) == 2
