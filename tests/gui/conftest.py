"""GUI fixtures: a small phantom project per test and a shown main window over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.project_fixtures import (  # noqa: F401  (fixtures, found by name)
    N_PHANTOMS,
    PHANTOM_SIZE,
    isolated_user_dirs,
    make_project,
    phantom_folder,
    project_dir,
)


def open_window(qtbot, folder: Path | None, size: tuple[int, int] | None = (1200, 800), *, with_engine=False):
    from hipvision.gui.app import create_window

    win = create_window(with_engine=with_engine)
    qtbot.addWidget(win)
    if size is not None:
        win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    if folder is not None:
        assert win.open_project(folder)
    win.activateWindow()
    settle(qtbot, win)
    return win


def settle(qtbot, win) -> None:
    """Wait until the first layout passes are done (docks sized, image fitted), so that
    screen positions computed by a test stay where they are when its mouse arrives."""
    vb = win.canvas.vb
    previous = None
    for _ in range(100):
        qtbot.wait(20)
        now = (vb.width(), vb.height(), tuple(map(tuple, vb.viewRange())))
        if now == previous:
            return
        previous = now
    raise AssertionError("the window layout did not settle within 2 s")


@pytest.fixture
def window(qtbot, project_dir):
    return open_window(qtbot, project_dir)


def viewport_pos(canvas, x: float, y: float) -> QPoint:
    return canvas.image_to_viewport(x, y)


def image_pos(canvas, p: QPoint) -> QPointF:
    return canvas.vb.mapSceneToView(canvas.mapToScene(p))


def drag(qtbot, canvas, start: QPoint, end: QPoint, *, steps: int = 4, on_step=None) -> None:
    """A left-button drag on the canvas viewport, as a user's mouse produces it.

    pyqtgraph drops mouse moves that come within 10 ms of the previous one (its
    mouseRateLimit), as a real mouse never does; the short waits keep every move."""
    vp = canvas.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, steps + 1):
        qtbot.wait(12)
        p = start + (end - start) * (k / steps)
        qtbot.mouseMove(vp, p)
        if on_step is not None:
            on_step(k)
    qtbot.wait(12)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)


def save_shot(image, name: str) -> None:
    """Keep a screenshot for a person to look at, only when asked: HIPVISION_TEST_SHOTS=folder."""
    import os

    folder = os.environ.get("HIPVISION_TEST_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        image.save(str(Path(folder) / name))
