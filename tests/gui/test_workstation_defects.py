"""Defects a new user hit (issue 13), each driven as the user meets it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox, QToolBar, QToolButton

from tests.gui.conftest import drag, save_shot, viewport_pos


def toolbar_button(win, name):
    bar = win.findChild(QToolBar, "main_toolbar")
    return bar.widgetForAction(win.actions[name])


def test_undo_redo_toolbar_labels_keep_their_width(qtbot, window):
    win, canvas = window, window.canvas
    undo = toolbar_button(win, "undo")
    assert isinstance(undo, QToolButton) and undo.text() == "Undo"
    x_verify = toolbar_button(win, "verify").x()
    lm = win.project.current_landmarks(win.current_image_id)
    start = viewport_pos(canvas, *lm.right.head)
    drag(qtbot, canvas, start, start + QPoint(10, 5))
    qtbot.wait(20)
    assert win.actions["undo"].text().replace("&", "").startswith("Undo ")  # the menu names the command...
    assert undo.text() == "Undo" and toolbar_button(win, "verify").x() == x_verify  # ...the toolbar stays put


def test_shortcut_sheet_lists_every_key_of_the_window(qtbot, project_dir):
    from hipvision.gui.shortcuts_dialog import ShortcutsDialog
    from tests.gui.conftest import open_window

    win = open_window(qtbot, project_dir, with_engine=True)
    rows = dict((text, keys) for keys, text in ShortcutsDialog(win).rows())
    assert "Ctrl+T" in rows["Retrain model"]
    assert "Ctrl+Y" in rows["Redo"] and "Ctrl+Shift+Z" in rows["Redo"] and "Ctrl+Z" in rows["Undo"]


def test_window_level_box_says_custom_after_a_drag_and_resets_per_image(qtbot, window):
    win, canvas = window, window.canvas
    assert win.wl_combo.currentIndex() == 0
    vp = canvas.viewport()
    centre = vp.rect().center()
    qtbot.mousePress(vp, Qt.MouseButton.RightButton, pos=centre)
    for k in range(1, 4):
        qtbot.wait(12)
        qtbot.mouseMove(vp, centre + QPoint(15 * k, 8 * k))
    qtbot.mouseRelease(vp, Qt.MouseButton.RightButton, pos=centre + QPoint(45, 24))
    assert win.wl_combo.currentText().startswith("Custom")
    win.apply_window_preset(win.wl_combo.currentText())  # choosing "Custom" itself is harmless
    qtbot.keyClick(canvas, Qt.Key.Key_D)
    assert win.wl_combo.currentIndex() == 0


def test_status_messages_do_not_outlive_their_image(qtbot, window):
    win, canvas = window, window.canvas
    win.show_status("Exported 4 annotated images to /tmp/x.csv")
    qtbot.keyClick(canvas, Qt.Key.Key_D)
    assert win.status_text.text() == ""
    qtbot.keyClick(canvas, Qt.Key.Key_V)
    assert win.status_text.text() == f"Verified {win.project.image(win.current_image_id).name}"


def test_predict_on_an_edited_image_asks_and_then_predicts(qtbot, window, monkeypatch):
    win = window
    image_id = win.current_image_id
    requested = []
    win.predict_requested.connect(requested.append)
    lm = win.project.current_landmarks(image_id)
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or next(answers))
    win.request_prediction()
    assert requested == [] and "Kept the verified landmarks" in win.status_text.text()
    assert "verified by a person" in asked[0]
    win.request_prediction()
    assert requested == [image_id] and win.project.image(image_id).status == "new"
    assert win.status_text.text().startswith("Predicting")
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.current_landmarks(image_id) == lm  # the replaced landmarks come back


def test_generate_dialog_trains_first_when_no_generator_exists(qtbot, tmp_path):
    from hipvision.gui.generate_dialog import GenerateDialog

    gens = tmp_path / "generators"
    dialog = GenerateDialog(str(tmp_path), generators_dir=gens)
    qtbot.addWidget(dialog)
    assert dialog.train_radio.isChecked() and not dialog.generate_radio.isEnabled()
    assert "train one first" in dialog.generate_radio.toolTip()
    assert dialog.build_request().train
    (gens / "ddpm").mkdir(parents=True)
    (gens / "ddpm" / "meta.json").write_text("{}")
    dialog.method.setCurrentIndex([dialog.method.itemData(i) for i in range(3)].index("ddpm"))
    assert dialog.generate_radio.isEnabled()


def test_a_failure_banner_can_be_dismissed(qtbot, window):
    win = window
    win.show_banner("Train ddpm generator failed: <no images>")
    assert win.banner.isVisible() and "&lt;no images&gt;" in win.banner.text()
    win.banner.linkActivated.emit("dismiss")
    assert not win.banner.isVisible()


def test_jobs_pile_up_without_growing_the_window_and_finished_ones_clear(qtbot):
    from types import SimpleNamespace

    from hipvision.gui.engine import Engine
    from hipvision.gui.jobs_panel import JobsPanel

    engine = Engine()
    panel = JobsPanel(engine)
    qtbot.addWidget(panel)
    panel.show()
    panel.add_job(SimpleNamespace(id=1, title="job 1"))
    h1 = panel.sizeHint().height()
    for i in range(2, 21):
        panel.add_job(SimpleNamespace(id=i, title=f"job {i}"))
    assert panel.sizeHint().height() <= h1 + 250 and panel.rows_area.height() <= 220
    engine.finished.emit(3, {})
    engine.failed.emit(4, "CUDA out of memory while training the generator at batch 16", "tb")
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert sorted(panel.rows) == [i for i in range(1, 21) if i not in (3, 4)]
    assert not panel.clear_button.isEnabled()
    # The plot: integer epoch ticks, loss and MAE on their own labelled axes.
    for ep in range(3):
        engine.metrics.emit(7, ep, {"loss": 1.0 / (ep + 1), "val_na_mae": 10.0 - ep})
    ticks = panel.plot.getAxis("bottom").tickValues(0, 2, 400)
    assert ticks and all(float(v).is_integer() for _, vals in ticks for v in vals)
    assert "MAE" in panel.plot.getPlotItem().getAxis("right").labelText
    assert panel.mae_curve.getViewBox() is panel.mae_view
    panel.resize(420, 600)
    qtbot.wait(50)
    save_shot(panel.grab(), "jobs_panel.png")
    assert engine.shutdown(5_000)


def test_a_tiny_radius_handle_can_be_grabbed_without_moving_the_centre(qtbot, window):
    from hipvision.annotation.landmark_edit import HandleKey
    from hipvision.core.landmarks import SideLandmarks

    win, canvas = window, window.canvas
    image_id = win.current_image_id
    lm = win.project.current_landmarks(image_id)
    s = lm.right
    tiny = lm.with_side("right", SideLandmarks(s.head_x, s.head_y, 1.0, s.rim_x, s.rim_y))
    win.project.save_annotation(image_id, tiny)
    win.on_annotation_changed(image_id)
    handle = canvas.handles[HandleKey("right", "radius")]
    assert handle.hit_offset().manhattanLength() > 5  # pushed out from under the centre
    grab = canvas.mapFromScene(handle.scenePos() + handle.hit_offset())
    drag(qtbot, canvas, grab, grab + QPoint(12, 12))
    after = win.project.current_landmarks(image_id).right
    assert after.head == s.head and after.head_r > 5
