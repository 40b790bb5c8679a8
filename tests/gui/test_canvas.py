"""The canvas alone: window/level by right-drag, the display pyramid, hover names."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from hipvision.annotation.landmark_edit import HandleKey, default_landmarks
from hipvision.core.image_cache import LoadedImage
from hipvision.core.image_pyramid import ImagePyramid
from hipvision.core.landmarks import SideMapping
from hipvision.core.radiograph import Radiograph
from hipvision.gui.canvas import Canvas


@pytest.fixture
def canvas(qtbot):
    px = (np.random.default_rng(1).random((2000, 2400)) * 4000).astype(np.float32)
    rad = Radiograph(pixels=px, path=None, format="png", bit_depth=16, spacing=None, modality="", window=None,
                     full_size=px.shape)
    c = Canvas()
    qtbot.addWidget(c)
    c.resize(800, 600)
    c.show()
    qtbot.waitExposed(c)
    c.set_image(LoadedImage(rad, ImagePyramid(px), (2000.0, 4000.0)))
    c.set_annotation(default_landmarks(2400, 2000, SideMapping()), SideMapping(), "unplaced")
    qtbot.wait(30)
    return c


def test_right_drag_sets_window_level_through_image_levels(qtbot, canvas):
    vp = canvas.viewport()
    start = QPoint(400, 300)
    assert canvas.window == (2000.0, 4000.0)
    qtbot.mousePress(vp, Qt.MouseButton.RightButton, pos=start)
    for k in range(1, 6):
        qtbot.wait(12)
        qtbot.mouseMove(vp, start + QPoint(50 * k, 0))
    qtbot.mouseRelease(vp, Qt.MouseButton.RightButton, pos=start + QPoint(250, 0))
    c, w = canvas.window
    assert (c, w) == pytest.approx((2000.0, 8000.0))  # 250 px right doubles the width
    lo, hi = canvas.image_item.getLevels()
    assert (lo, hi) == pytest.approx((c - w / 2, c + w / 2))


def test_display_uses_a_screen_sized_crop_of_the_right_pyramid_level(qtbot, canvas):
    shown = canvas.image_item.image
    assert canvas._crop.level >= 1 and max(shown.shape) < 2400  # zoomed out: a reduced level
    canvas.zoom(8.0)
    qtbot.wait(30)
    assert canvas._crop.level == 0
    assert canvas.image_item.image.size < 0.25 * 2000 * 2400  # only around the visible part
    x, y, w, h = canvas._crop.rect
    (x0, x1), (y0, y1) = canvas.vb.viewRange()
    assert x <= x0 and y <= y0 and x + w >= x1 and y + h >= y1


def test_invert_and_hover_name(qtbot, canvas):
    canvas.set_inverted(True)
    assert canvas.image_item.lut is not None and canvas.image_item.lut[0] == 255
    key = HandleKey("left", "rim")
    p = canvas.image_to_viewport(*canvas.handles[key].pos().toTuple())
    qtbot.mouseMove(canvas.viewport(), p + QPoint(30, 30))
    qtbot.wait(15)
    qtbot.mouseMove(canvas.viewport(), p)
    qtbot.waitUntil(lambda: canvas.hover_label.isVisible(), timeout=1000)
    assert canvas.hover_label.textItem.toPlainText() == "Left craniolateral acetabular rim"
