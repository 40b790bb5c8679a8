"""The workstation driven as a user drives it: mouse drags, keys, menus; checked against the
store and the core's Norberg angle."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from hipvision.annotation.landmark_edit import HandleKey, handle_position
from hipvision.core.interchange import read_coco, read_csv
from hipvision.core.landmarks import Side
from hipvision.core.store import Project
from tests.gui.conftest import drag, image_pos, make_project, open_window, viewport_pos

RIGHT_HEAD = HandleKey(Side.RIGHT, "head")


def na_text(lm, side) -> str:
    return f"{lm.norberg_angle(side):.1f}°"


def stored(win):
    return win.project.current_annotation(win.current_image_id)


def test_drag_centre_handle_live_readout_undo_redo_and_reopen(qtbot, window, project_dir):
    win, canvas = window, window.canvas
    image_id = win.current_image_id
    before = stored(win)
    n_revisions = len(win.project.annotation_history(image_id))
    start = viewport_pos(canvas, *handle_position(before.landmarks, RIGHT_HEAD))
    end = start + QPoint(24, -18)
    seen = []

    def during(k):
        # Every move redraws the readout with the core's angle; nothing reaches the store.
        lm = canvas.landmarks
        seen.append(lm.right.head)
        assert win.panel.na_text("right") == na_text(lm, "right")
        assert win.panel.na_text("left") == na_text(lm, "left")
        assert len(win.project.annotation_history(image_id)) == n_revisions
        assert stored(win).landmarks == before.landmarks

    drag(qtbot, canvas, start, end, steps=4, on_step=during)
    assert len(set(seen)) >= 3, "the readout should follow the drag move by move"

    after = stored(win)
    assert len(win.project.annotation_history(image_id)) == n_revisions + 1  # exactly one write, on release
    assert after.author == "user" and win.project.image(image_id).status == "edited"
    target = image_pos(canvas, end)
    assert after.landmarks.right.head == pytest.approx((target.x(), target.y()), abs=1.0)
    assert after.landmarks.left == before.landmarks.left and after.landmarks.right.rim == before.landmarks.right.rim
    assert win.panel.na_text("right") == na_text(after.landmarks, "right")
    assert win.panel.na_text("right") != na_text(before.landmarks, "right")

    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(win).landmarks == before.landmarks
    assert win.panel.na_text("right") == na_text(before.landmarks, "right")
    assert canvas.landmarks == before.landmarks
    qtbot.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert stored(win).landmarks == after.landmarks
    assert win.panel.na_text("right") == na_text(after.landmarks, "right")

    win.close()
    with Project.open(project_dir) as project:
        assert project.current_landmarks(image_id) == after.landmarks
        assert project.image(image_id).status == "edited"


def test_arrow_keys_nudge_the_selected_landmark(qtbot, window):
    win, canvas = window, window.canvas
    lm0 = stored(win).landmarks
    rim = HandleKey(Side.LEFT, "rim")
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewport_pos(canvas, *lm0.left.rim))
    assert canvas.selected == rim
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert stored(win).landmarks.left.rim == pytest.approx((lm0.left.rim_x + 1, lm0.left.rim_y))
    qtbot.keyClick(canvas, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    lm = stored(win).landmarks
    assert lm.left.rim == pytest.approx((lm0.left.rim_x + 1, lm0.left.rim_y - 10))
    assert win.panel.na_text("left") == na_text(lm, "left")
    assert win.workspace.stack(win.current_image_id).count() == 2  # one undo command per nudge
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert stored(win).landmarks.left.rim == pytest.approx((lm0.left.rim_x + 1, lm0.left.rim_y))


def test_next_previous_verify_and_history_per_image(qtbot, window):
    win, canvas = window, window.canvas
    ids = win.image_list.visible_ids()
    assert win.current_image_id == ids[0]
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=viewport_pos(canvas, *stored(win).landmarks.right.head))
    qtbot.keyClick(canvas, Qt.Key.Key_Down)  # an edit on image 0
    qtbot.keyClick(canvas, Qt.Key.Key_PageDown)
    assert win.current_image_id == ids[1]
    assert not win.actions["undo"].isEnabled()  # image 1 has its own (empty) history
    qtbot.keyClick(canvas, Qt.Key.Key_D)
    assert win.current_image_id == ids[2]
    qtbot.keyClick(canvas, Qt.Key.Key_A)
    qtbot.keyClick(canvas, Qt.Key.Key_PageUp)
    assert win.current_image_id == ids[0]
    assert win.actions["undo"].isEnabled()

    assert "1 edited" in win.summary_text.text()
    qtbot.keyClick(canvas, Qt.Key.Key_V)
    assert win.project.image(ids[0]).status == "verified"
    assert win.summary_text.text() == f"{len(ids)} images · {len(ids)} verified"
    assert stored(win).author == "user"
    assert "Verified" in win.panel.source.text()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.image(ids[0]).status == "edited"


def test_export_csv_and_coco_parse_and_match_the_store(qtbot, window, tmp_path):
    win = window
    qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton,
                     pos=viewport_pos(win.canvas, *stored(win).landmarks.left.head))
    qtbot.keyClick(win.canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    edited = stored(win).landmarks
    name = win.project.image(win.current_image_id).path
    csv_items = {i.image: i for i in read_csv(win.export_annotations(tmp_path / "out.csv", "csv"))}
    coco_items = {i.image: i for i in read_coco(win.export_annotations(tmp_path / "out.json", "coco"))}
    assert len(csv_items) == len(coco_items) == len(win.project.images())
    assert csv_items[name].landmarks == edited
    assert coco_items[name].landmarks.left.head == pytest.approx(edited.left.head)


def test_swap_sides_exchanges_labels_and_mapping(qtbot, window):
    win = window
    lm0, rec0 = stored(win).landmarks, win.project.image(win.current_image_id)
    win.actions["swap"].trigger()
    rec = win.project.image(win.current_image_id)
    assert rec.mapping == rec0.mapping.swapped()
    assert stored(win).landmarks == lm0.swapped()
    assert win.panel.na_text("right") == na_text(lm0, "left")
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.image(win.current_image_id).mapping == rec0.mapping
    assert stored(win).landmarks == lm0


def test_delete_gives_unplaced_default_then_prediction_arrives_and_reset(qtbot, window):
    """The engine's path: a model annotation is stored, the engine calls on_annotation_changed."""
    win, canvas = window, window.canvas
    image_id = win.current_image_id
    lm0 = stored(win).landmarks
    requested = []
    win.predict_requested.connect(requested.append)
    win.actions["delete"].trigger()
    assert stored(win).landmarks is None and win.project.image(image_id).status == "new"
    assert win._state.kind == "unplaced" and canvas._banner.isVisible()
    assert canvas.landmarks is not None  # default placement, draggable
    qtbot.keyClick(canvas, Qt.Key.Key_D)
    qtbot.keyClick(canvas, Qt.Key.Key_A)
    assert requested == [image_id]  # an image without landmarks asks the engine for a prediction

    assert win.project.save_prediction(image_id, lm0, model_id="7", confidence={"right_head": 0.9})
    win.on_annotation_changed(image_id)
    assert win._state.kind == "model" and canvas.overlay_item.overlay.kind == "model"
    assert "model:7" in win.panel.source.text() and "0.90" in win.panel.note.text()
    assert win.actions["reset"].isEnabled()

    start = viewport_pos(canvas, *lm0.right.rim)
    drag(qtbot, canvas, start, start + QPoint(15, 15))
    assert win.project.image(image_id).status == "edited" and stored(win).landmarks != lm0
    qtbot.keyClick(canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert stored(win).landmarks == lm0 and win.project.image(image_id).status == "predicted"


def test_three_point_circle_mode_fits_the_head(qtbot, window):
    import math

    win, canvas = window, window.canvas
    lm0 = stored(win).landmarks
    cx, cy, r = lm0.right.head_x + 3, lm0.right.head_y - 2, lm0.right.head_r + 2
    qtbot.keyClick(canvas, Qt.Key.Key_C)
    assert canvas.circle_mode
    for ang in (200, 270, 330):
        p = viewport_pos(canvas, cx + r * math.cos(math.radians(ang)), cy + r * math.sin(math.radians(ang)))
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=p)
    assert not canvas.circle_mode and not win.actions["circle"].isChecked()
    right = stored(win).landmarks.right
    # Viewport clicks are whole screen pixels; the image is magnified, so < 1 image px off.
    assert (right.head_x, right.head_y, right.head_r) == pytest.approx((cx, cy, r), abs=1.0)
    assert stored(win).landmarks.left == lm0.left
    assert "rms residual" in win.status_text.text()


def test_unreadable_file_is_listed_with_its_reason_and_app_keeps_working(qtbot, tmp_path, phantom_folder):
    folder = make_project(phantom_folder, tmp_path / "p", extra={"broken.png": b"\x89PNG\r\n\x1a\n garbage"})
    win = open_window(qtbot, folder)
    bad = win.project.image_by_path("broken.png")
    assert bad.status == "error" and bad.error
    win.image_list.select_id(bad.id)
    assert win.current_image_id == bad.id
    assert win.canvas._message.isVisible() and "broken.png" in win.canvas._message.text()
    assert bad.error in win.image_list._items[bad.id].toolTip(0)
    assert not win.actions["verify"].isEnabled()
    qtbot.keyClick(win.canvas, Qt.Key.Key_PageDown)
    assert win.current_image_id != bad.id
    assert win.canvas.loaded is not None and win.canvas.landmarks is not None


def test_read_only_folder_opens_with_the_project_in_user_data_and_says_so(qtbot, tmp_path, phantom_folder,
                                                                         monkeypatch):
    from hipvision.core import locations

    folder = tmp_path / "ro"
    folder.mkdir()
    for f in phantom_folder.glob("*.png"):
        (folder / f.name).write_bytes(f.read_bytes())
    # Tests run as root here, for whom every folder is writable: make the store see a read-only one.
    monkeypatch.setattr(locations, "_folder_writable", lambda path: False)
    win = open_window(qtbot, folder)
    assert win.project.fallback
    assert win.banner.isVisible() and "read-only" in win.banner.text()
    assert str(tmp_path / "userdata") in win.banner.text()
    assert not (folder / ".hipvision").exists()
    assert len(win.project.images()) == len(list(folder.glob("*.png")))


def test_window_geometry_and_recent_projects_are_remembered(qtbot, project_dir):
    win = open_window(qtbot, project_dir)
    win.resize(760, 560)  # inside the offscreen screen (800 x 600): restore clamps to it
    win.close()
    again = open_window(qtbot, None, size=None)
    assert (again.width(), again.height()) == (760, 560)
    assert str(project_dir) in [a.text() for a in again.recent_menu.actions()]


def test_f1_shows_the_shortcut_sheet_built_from_the_actions(qtbot, window):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen = {}

    def read_and_close():
        dlg = QApplication.activeModalWidget()
        t = dlg.table
        seen.update({t.item(r, 1).text(): t.item(r, 0).text() for r in range(t.rowCount())})
        dlg.accept()

    QTimer.singleShot(100, read_and_close)
    qtbot.keyClick(window.canvas, Qt.Key.Key_F1)
    assert seen["Verify (accept landmarks)"] == "V"
    assert seen["Next image"] == "PgDown / D" and seen["Previous image"] == "PgUp / A"
    assert seen["Nudge the landmark 1 px (Shift: 10 px)"] == "Click a handle, then ← ↑ → ↓"


def test_letter_shortcuts_work_from_the_image_list(qtbot, window):
    ids = window.image_list.visible_ids()
    window.image_list.tree.setFocus()
    qtbot.keyClick(window.image_list.tree, Qt.Key.Key_D)
    assert window.current_image_id == ids[1]
    qtbot.keyClick(window.image_list.tree, Qt.Key.Key_Down)  # the list's own navigation
    assert window.current_image_id == ids[2]


def test_grade_thresholds_come_from_the_settings(qtbot, project_dir):
    from hipvision.core.grading import GradeThresholds
    from hipvision.core.settings import AppSettings, save_settings

    save_settings(AppSettings(thresholds=GradeThresholds(normal_min=40.0, borderline_min=30.0)))
    win = open_window(qtbot, project_dir)
    grades = {win.image_list._items[i].text(3) for i in win.image_list.visible_ids()}
    assert grades == {"normal"}
    assert "NA ≥ 40°" in win.panel.hint.text()


def test_a_project_folder_that_became_read_only_shows_the_vets_edits_read_only(qtbot, tmp_path, phantom_folder,
                                                                               monkeypatch):
    """#16 item 5: the folder's own database (with the vet's edit) is opened read-only and said so,
    not replaced by a fresh import of annotations.json in the user data dir."""
    from hipvision.core import locations

    with Project.open(phantom_folder) as project:
        from hipvision.core.importer import import_folder

        import_folder(project)
        image = project.images()[0]
        edited = project.current_annotation(image.id).landmarks
        moved = edited.with_side(Side.RIGHT, edited.right.moved(dx=7.0, dy=0.0))
        project.save_annotation(image.id, moved, author="user")
    monkeypatch.setattr(locations, "_folder_writable", lambda path: False)
    win = open_window(qtbot, phantom_folder)
    assert win.project.read_only and not win.project.fallback
    assert win.project.db_path == phantom_folder.resolve() / ".hipvision" / "project.sqlite"
    assert win.banner.isVisible() and "opened read-only" in win.banner.text()
    current = win.project.current_annotation(image.id)
    assert current.author == "user"
    assert current.landmarks.right.head_x == pytest.approx(moved.right.head_x)
    assert not (tmp_path / "userdata" / "projects").exists()
