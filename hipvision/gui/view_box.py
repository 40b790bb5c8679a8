"""The canvas's view box: y down, aspect locked, and radiology mouse conventions.

Left drag pans, the wheel zooms, right drag adjusts window/level (horizontal: width,
vertical: centre) as in clinical viewers; a left click is reported in image coordinates
(for the 3-point circle mode). No context menu: right-drag belongs to window/level.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal


class RadiographViewBox(pg.ViewBox):
    clicked = Signal(float, float)  # image coordinates of a plain left click
    windowDragged = Signal(float, float, bool)  # dx, dy in screen px since the last event, finished

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self.setMouseMode(pg.ViewBox.PanMode)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(p.x(), p.y())
        else:
            ev.accept()  # swallow: no menu

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d: QPointF = ev.screenPos() - ev.lastScreenPos()
            self.windowDragged.emit(d.x(), d.y(), ev.isFinish())
            return
        super().mouseDragEvent(ev, axis)
