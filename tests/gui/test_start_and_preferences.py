"""First run: the start screen's three ways in, and the preferences dialog."""

from pathlib import Path

from PySide6.QtCore import Qt

from hipvision.core.settings import load_settings
from tests.gui.conftest import open_window


def test_start_screen_without_project_and_sample_project(qtbot, monkeypatch, tmp_path):
    win = open_window(qtbot, None)
    assert win.stack.currentWidget() is win.start_screen
    assert win.start_screen.isVisible() and not win.canvas.isVisible()
    assert not win.start_screen.recent.isVisible()  # no recent projects on a first run
    qtbot.mouseClick(win.start_screen.sample_button, Qt.MouseButton.LeftButton)
    assert win.project is not None and win.stack.currentWidget() is win.canvas
    assert len(win.project.images()) == 12
    # The sample is a writable copy in the user data dir, never the bundled files.
    assert str(win.project.root).startswith(str(tmp_path / "userdata"))


def test_recent_project_opens_from_start_screen(qtbot, project_dir):
    win = open_window(qtbot, project_dir)
    win.close_project()
    assert win.stack.currentWidget() is win.start_screen
    recent = win.start_screen.recent
    assert recent.isVisible() and recent.count() == 1
    recent.itemClicked.emit(recent.item(0))
    assert win.project is not None and Path(win.project.root) == Path(project_dir).resolve()


def test_preferences_change_thresholds_live_and_persist(qtbot, project_dir):
    from hipvision.gui.preferences_dialog import PreferencesDialog

    win = open_window(qtbot, project_dir)
    dialog = PreferencesDialog(win.settings, win)
    qtbot.addWidget(dialog)
    dialog.normal.setValue(130.0)
    dialog.borderline.setValue(125.0)
    dialog.device.setCurrentText("cpu")
    dialog.sd_dir.setText(str(project_dir))
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    win.apply_settings(dialog.settings)
    saved = load_settings()
    assert saved.thresholds.normal_min == 130.0 and saved.device == "cpu" and saved.sd_base_dir == Path(project_dir)
    # Every phantom hip is below 125 degrees: the readout now says suspect on both sides.
    assert "suspect" in win.panel.grade_text("left") and "suspect" in win.panel.grade_text("right")


def test_preferences_reject_inconsistent_thresholds(qtbot, project_dir):
    from hipvision.gui.preferences_dialog import PreferencesDialog

    win = open_window(qtbot, project_dir)
    dialog = PreferencesDialog(win.settings, win)
    qtbot.addWidget(dialog)
    dialog.normal.setValue(100.0)
    dialog.borderline.setValue(110.0)
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "borderline_min" in dialog.error.text()
    assert load_settings().thresholds.normal_min == 105.0  # nothing saved


def test_preferences_set_how_retraining_mixes_in_synthetic_images(qtbot, project_dir):
    from hipvision.gui.preferences_dialog import PreferencesDialog

    win = open_window(qtbot, project_dir, with_engine=True)
    dialog = PreferencesDialog(win.settings, win)
    qtbot.addWidget(dialog)
    assert dialog.syn_share.value() == 50 and dialog.syn_until.value() == 67  # the measured defaults
    dialog.syn_share.setValue(-1)  # shown as "in proportion to their number"
    assert dialog.syn_share.text() == "in proportion to their number"
    dialog.syn_until.setValue(100)
    dialog.accept()
    win.apply_settings(dialog.settings)
    saved = load_settings()
    assert saved.synthetic_share is None and saved.synthetic_until == 1.0
    # The next one-click retrain trains with that mix.
    bridge = win.engine_bridge
    bridge.retrain_options = {"epochs": 1, "phantoms": 1, "extra": {"backbone": "test_resnet"}}
    job = bridge.retrain_config(str(project_dir))
    assert job.synthetic_share is None and job.synthetic_until == 1.0
    assert job.extra == {"backbone": "test_resnet"}
    assert job.epochs == 1
