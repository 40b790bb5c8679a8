"""Place hips with two clicks, as a vet does it: P, a click near each femoral head, the engine
refines, the result is one undoable user edit; R refits after a head was dragged far."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from hipvision.core.landmarks import SideLandmarks
from tests.gui.conftest import drag, open_window, viewport_pos


def stored(win):
    return win.project.current_annotation(win.current_image_id)


def click(qtbot, canvas, x, y):
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewport_pos(canvas, x, y))


def wait_placed(qtbot, bridge):
    return qtbot.waitSignal(bridge.engine.finished, timeout=60_000,
                            check_params_cb=lambda jid, r: bridge.engine.jobs[jid].kind == "place")


@pytest.fixture
def engine_window(qtbot, project_dir):
    return open_window(qtbot, project_dir, with_engine=True)


def test_two_clicks_place_both_hips_as_one_undoable_user_edit(qtbot, engine_window):
    win, canvas = engine_window, engine_window.canvas
    truth = stored(win).landmarks
    # Start from a wrong annotation, as a failed prediction would leave it.
    wrong = truth.with_side("left", SideLandmarks(truth.left.head_x + 40, truth.left.head_y - 30, 5.0,
                                                  truth.left.rim_x + 40, truth.left.rim_y - 30))
    win.project.save_annotation(win.current_image_id, wrong)
    win.on_annotation_changed(win.current_image_id)
    before = stored(win)
    qtbot.keyClick(canvas, Qt.Key.Key_P)
    assert win.place_tool.active and win.actions["place"].isChecked()
    assert not any(h.isVisible() for h in canvas.handles.values())  # clicks cannot grab a handle
    # clicks a third of a radius off each head centre
    r = truth.left.head_r
    with wait_placed(qtbot, win.engine_bridge):
        click(qtbot, canvas, truth.left.head_x + r / 3, truth.left.head_y)
        assert win.place_tool.active and "other femoral head" in win.status_text.text()
        click(qtbot, canvas, truth.right.head_x, truth.right.head_y - r / 3)
    qtbot.waitUntil(lambda: stored(win).landmarks != before.landmarks, timeout=5_000)
    after = stored(win)
    assert not win.place_tool.active and not win.actions["place"].isChecked()
    assert after.author == "user" and win.project.image(win.current_image_id).status == "edited"
    for side in ("left", "right"):
        p, t = after.landmarks.side(side), truth.side(side)
        assert math.hypot(p.head_x - t.head_x, p.head_y - t.head_y) < 0.35 * t.head_r, side
        assert abs(p.head_r - t.head_r) < 0.3 * t.head_r, side
        assert abs(after.landmarks.norberg_angle(side) - truth.norberg_angle(side)) < 6.0, side
    assert "placed from your clicks" in win.status_text.text()
    # one undo step brings the wrong annotation back
    win.workspace_undo_group.undo()
    assert stored(win).landmarks == before.landmarks


def test_refine_key_refits_radius_and_rim_around_dragged_heads(qtbot, engine_window):
    win, canvas = engine_window, engine_window.canvas
    truth = stored(win).landmarks
    # A head left with a tiny radius and its rim far off: drag the head to the right place,
    # then R refits radius and rim around it.
    bad = truth.with_side("right", SideLandmarks(truth.right.head_x + 25, truth.right.head_y + 10, 4.0,
                                                 truth.right.rim_x + 60, truth.right.rim_y + 40))
    win.project.save_annotation(win.current_image_id, bad)
    win.on_annotation_changed(win.current_image_id)
    drag(qtbot, canvas, viewport_pos(canvas, bad.right.head_x, bad.right.head_y),
         viewport_pos(canvas, truth.right.head_x, truth.right.head_y))
    with wait_placed(qtbot, win.engine_bridge):
        qtbot.keyClick(canvas, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: abs(stored(win).landmarks.right.head_r - 4.0) > 1, timeout=5_000)
    right = stored(win).landmarks.right
    assert abs(right.head_r - truth.right.head_r) < 0.3 * truth.right.head_r
    assert math.hypot(right.rim_x - truth.right.rim_x, right.rim_y - truth.right.rim_y) < 0.5 * truth.right.head_r


def test_escape_cancels_the_tool_and_restores_the_handles(qtbot, engine_window):
    win, canvas = engine_window, engine_window.canvas
    lm = stored(win).landmarks
    qtbot.keyClick(canvas, Qt.Key.Key_P)
    click(qtbot, canvas, lm.left.head_x, lm.left.head_y)
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert not win.place_tool.active and not win.actions["place"].isChecked()
    assert any(h.isVisible() for h in canvas.handles.values())
    assert win.place_tool.markers.data.size == 0
    assert stored(win).landmarks == lm
