"""Trust on screen: a doubtful prediction never looks like a measurement; grades agree with
themselves; undo never credits the user with an import's or a model's work."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt

from hipvision.core.grading import GRADE_COLOURS
from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from tests.gui.conftest import drag, save_shot, viewport_pos

ZERO_CONF = {f"{s}.{p}": 0.0 for s in ("left", "right") for p in ("head", "radius", "rim")}


def failed_prediction(lm: HipLandmarks) -> HipLandmarks:
    """What a model did on a real radiograph: the left rim pulled towards the other head (NA ~15°)."""
    lf = lm.left
    to_other = ((lm.right.head_x - lf.head_x) * 0.3, (lm.right.head_y - lf.head_y) * 0.3)
    bad = SideLandmarks(lf.head_x, lf.head_y, lf.head_r, lf.head_x + to_other[0],
                        lf.head_y + to_other[1] - 0.1 * lf.head_r)
    return HipLandmarks(left=bad, right=lm.right)


def store_prediction(win, lm, confidence, model_id="7"):
    image_id = win.current_image_id
    win.project.save_annotation(image_id, None, status="new")
    assert win.project.save_prediction(image_id, lm, model_id=model_id, confidence=confidence)
    win.on_annotation_changed(image_id)
    return image_id


def row(win, image_id):
    return win.image_list._items[image_id]


def test_failed_prediction_is_flagged_everywhere_until_reviewed(qtbot, window):
    win, canvas = window, window.canvas
    lm0 = win.project.current_landmarks(win.current_image_id)
    bad = failed_prediction(lm0)
    assert bad.norberg_angle("left") < 40
    image_id = store_prediction(win, bad, ZERO_CONF)

    # The list: its own icon and status, grey angles, no grade (never the green "normal").
    assert win.image_list.display_status(image_id) == "flagged"
    item = row(win, image_id)
    assert item.text(3) == "check" and "left NA" in item.toolTip(0)
    assert item.foreground(1).color().name() not in GRADE_COLOURS.values()
    summary = win.summary_text.text()
    assert summary.startswith(f"{len(win.project.images())} images") and "1 doubtful" in summary
    win.image_list.filter.setCurrentText("Doubtful predictions")
    assert win.image_list.visible_ids() == [image_id]
    win.image_list.filter.setCurrentText("All images")

    # The canvas and the panel: unconfirmed drawing, no grade, no points, a banner with the fix.
    assert canvas.overlay_item.overlay.kind == "flagged"
    assert all(s.grade is None and s.bva is None for s in canvas.overlay_item.overlay.sides)
    assert win.panel.grade_text("left") == "– (not reviewed)" and win.panel.bva_text("left") == "–"
    assert "Doubtful prediction" in win.panel.source.text() and "left.rim 0.00" in win.panel.note.text()
    assert "low model confidence (6 of 6 landmarks)" in win.review_banner.label.text()
    assert win.review_banner.isVisible() and "outside 40–140°" in win.review_banner.label.text()
    qtbot.wait(100)  # let the layout settle before looking
    save_shot(win.grab(), "flagged_prediction.png")

    # The banner's one action: the click tool answers it when attached...
    asked = []
    win.place_with_clicks_requested.connect(asked.append)
    qtbot.mouseClick(win.review_banner.button, Qt.MouseButton.LeftButton)
    assert asked == [image_id]
    win.place_with_clicks_requested.disconnect()
    # ... and without it the least confident landmark is selected to drag (never a dead button).
    qtbot.mouseClick(win.review_banner.button, Qt.MouseButton.LeftButton)
    assert canvas.selected is not None and "Drag the selected landmark" in win.status_text.text()

    # Reviewing it (here: dragging the bad rim back) makes it a measurement with a grade.
    start = viewport_pos(canvas, *bad.left.rim)
    drag(qtbot, canvas, start, viewport_pos(canvas, *lm0.left.rim))
    assert win.project.image(image_id).status == "edited"
    assert not win.review_banner.isVisible() and win.image_list.display_status(image_id) == "edited"
    assert win.panel.grade_text("left") in ("normal", "borderline", "suspect")
    assert row(win, image_id).text(3) in ("normal", "borderline", "suspect")


def test_low_confidence_alone_flags_and_verify_grades_it(qtbot, window):
    win = window
    lm0 = win.project.current_landmarks(win.current_image_id)
    conf = dict.fromkeys(ZERO_CONF, 0.9) | {"right.rim": 0.2}
    image_id = store_prediction(win, lm0, conf)
    assert win.image_list.display_status(image_id) == "flagged" and win.panel.bva_text("right") == "–"
    assert "right.rim" in win.review_banner.label.text()
    qtbot.keyClick(win.canvas, Qt.Key.Key_V)
    assert win.project.image(image_id).status == "verified" and not win.review_banner.isVisible()
    assert win.panel.bva_text("right") != "–"


def test_a_confident_plausible_prediction_is_graded_and_not_flagged(qtbot, window):
    win = window
    lm0 = win.project.current_landmarks(win.current_image_id)
    image_id = store_prediction(win, lm0, dict.fromkeys(ZERO_CONF, 0.9))
    assert win.image_list.display_status(image_id) == "predicted" and not win.review_banner.isVisible()
    assert win.panel.grade_text("left") in ("normal", "borderline", "suspect")


def test_unplaced_default_carries_no_grade_and_no_points(qtbot, window):
    win = window
    image_id = win.current_image_id
    win.actions["delete"].trigger()
    assert win._state.kind == "unplaced"
    for side in ("left", "right"):
        assert win.panel.na_text(side) != "–"  # the default is shown, to drag from
        assert win.panel.grade_text(side) == "– (unplaced)" and win.panel.bva_text(side) == "–"
    assert row(win, image_id).text(3) == ""


def test_undo_to_an_imported_annotation_restores_its_author(qtbot, window):
    win, canvas = window, window.canvas
    image_id = win.current_image_id
    imported = win.project.current_annotation(image_id)
    assert imported.author.startswith("import:")
    assert f"({imported.author})" in win.panel.source.text()
    start = viewport_pos(canvas, *imported.landmarks.right.head)
    drag(qtbot, canvas, start, start + QPoint(12, 9))
    assert win.project.current_annotation(image_id).author == "user"
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    back = win.project.current_annotation(image_id)
    assert back.landmarks == imported.landmarks and back.author == imported.author
    assert win.project.image(image_id).status == "verified"
    assert f"({imported.author})" in win.panel.source.text() and "(user)" not in win.panel.source.text()
    qtbot.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert win.project.current_annotation(image_id).author == "user"
    # Delete, then undo: the import comes back under its own name too.
    win.actions["delete"].trigger()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.current_annotation(image_id).author == "user"  # back to the user's drag
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.project.current_annotation(image_id).author == imported.author


def test_undo_and_reset_to_a_prediction_restore_the_model_and_its_confidence(qtbot, window):
    win, canvas = window, window.canvas
    lm0 = win.project.current_landmarks(win.current_image_id)
    conf = dict.fromkeys(ZERO_CONF, 0.8)
    image_id = store_prediction(win, lm0, conf, model_id="9")
    start = viewport_pos(canvas, *lm0.right.rim)
    drag(qtbot, canvas, start, start + QPoint(10, 10))
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    back = win.project.current_annotation(image_id)
    assert back.author == "model:9" and back.confidence == conf and back.note.startswith("restored")
    assert "model:9" in win.panel.source.text()
    qtbot.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(canvas, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert win.project.current_annotation(image_id).author == "model:9"
