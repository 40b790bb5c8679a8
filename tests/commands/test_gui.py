"""`hipvision gui --screenshot` and `hipvision demo`: start, load, save the window, exit."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from hipvision.cli import main
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms


@pytest.fixture(autouse=True)
def user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out, 2, seed=4, config=PhantomConfig(size=300))
    return out


def test_screenshot_of_a_folder_imports_it_and_shows_the_image(qapp, tmp_path, phantoms, capsys):
    folder = tmp_path / "fresh"
    folder.mkdir()
    for f in phantoms.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "shot.png"
    assert main(["gui", str(folder), "--image", "phantom_0001.png", "--size", "1000x700",
                 "--screenshot", str(out)]) == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
    gray = img.convertToFormat(QImage.Format.Format_Grayscale8)
    arr = np.frombuffer(gray.constBits(), np.uint8).reshape(700, gray.bytesPerLine())[:, :1000]
    assert arr[150:600, 350:650].std() > 15  # the radiograph is in the middle, not a blank canvas
    with Project.open(folder) as p:  # opened for the first time: imported with its labels
        assert len(p.images()) == 2 and all(r.status == "verified" for r in p.images())


def test_bad_arguments(qapp, tmp_path, capsys):
    assert main(["gui", str(tmp_path / "missing"), "--screenshot", str(tmp_path / "x.png")]) == 2
    assert "no such folder or file" in capsys.readouterr().err
    assert main(["gui", str(tmp_path), "--size", "big", "--screenshot", str(tmp_path / "x.png")]) == 2


def test_demo_copies_the_samples_once(qapp, phantoms, monkeypatch, capsys, tmp_path):
    import hipvision.core.demo_project as demo

    monkeypatch.setattr(demo, "sample_project_dir", lambda: phantoms)
    assert main(["demo", "--path-only"]) == 0
    folder = capsys.readouterr().out.strip()
    assert folder == str(tmp_path / "userdata" / "demo")
    with Project.open(folder) as p:
        assert len(p.images()) == 2
    out = tmp_path / "demo.png"
    assert main(["demo", "--screenshot", str(out), "--size", "800x600"]) == 0
    assert QImage(str(out)).width() == 800
    assert f"writable copy; your edits are kept here): {folder}" in capsys.readouterr().out
    monkeypatch.setattr(demo, "sample_project_dir", lambda: tmp_path / "gone")
    assert main(["demo", "--path-only"]) == 0  # already prepared: the copy is reused




def test_open_with_an_image_file_opens_its_folder_at_that_image(qapp, tmp_path, phantoms, capsys):
    """What the desktop's 'Open with HipVision' on a .dcm/.png passes: a file, not a folder."""
    folder = tmp_path / "opened"
    folder.mkdir()
    for f in phantoms.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "shot.png"
    assert main(["gui", str(folder / "phantom_0001.png"), "--screenshot", str(out)]) == 0
    with Project.open(folder) as p:
        shown = p.get_setting("gui.last_image")
        assert p.image(shown).name == "phantom_0001.png"
    assert main(["gui", str(folder / "nope.png")]) == 2
    assert "no such folder or file" in capsys.readouterr().err


def test_screenshot_waits_for_the_shown_images_prediction(qapp, tmp_path, phantoms, monkeypatch, capsys):
    """`--screenshot` of an unannotated image shows its prediction, not the unplaced default."""
    from types import SimpleNamespace

    from PySide6.QtCore import QTimer

    import hipvision.gui.app as app_module

    folder = tmp_path / "fresh"
    folder.mkdir()
    for f in phantoms.iterdir():
        if f.suffix == ".png":
            (folder / f.name).write_bytes(f.read_bytes())
    real_create = app_module.create_window
    seen = {}

    def create_window(**_):
        win = real_create(with_engine=False)
        win.engine_bridge = SimpleNamespace(pending_predictions=set())

        def predict(image_id):  # a model that answers after 0.6 s
            win.engine_bridge.pending_predictions.add(image_id)

            def arrive():
                from hipvision.annotation.landmark_edit import default_landmarks
                rec = win.project.image(image_id)
                win.project.save_prediction(image_id, default_landmarks(rec.width, rec.height), model_id=1,
                                            confidence={"left.head": 0.9})
                win.engine_bridge.pending_predictions.discard(image_id)
                win.on_annotation_changed(image_id)
            QTimer.singleShot(600, arrive)

        win.predict_requested.connect(predict)
        real_save = app_module.save_screenshot
        monkeypatch.setattr(app_module, "save_screenshot",
                            lambda w, p: seen.setdefault("kind", w._state.kind) and real_save(w, p))
        return win

    monkeypatch.setattr(app_module, "create_window", create_window)
    assert main(["gui", str(folder), "--screenshot", str(tmp_path / "s.png")]) == 0
    assert seen["kind"] == "model"  # taken after the prediction arrived
