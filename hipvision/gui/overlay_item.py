"""The canvas's landmark overlay: one graphics item that calls the shared painter."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from hipvision.annotation.overlay_geometry import Overlay
from hipvision.gui.overlay_painter import OverlayStyle, paint_overlay


class OverlayItem(QGraphicsObject):
    """Lives in image coordinates (a child of the view box) but paints in device pixels."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._overlay: Overlay | None = None
        self._bounds = QRectF()
        self.style = OverlayStyle()
        self.setZValue(10)

    @property
    def overlay(self) -> Overlay | None:
        return self._overlay

    def set_overlay(self, overlay: Overlay | None) -> None:
        self.prepareGeometryChange()
        self._overlay = overlay
        self._bounds = self._compute_bounds()
        self.update()

    def _compute_bounds(self) -> QRectF:
        if self._overlay is None:
            return QRectF()
        xs, ys = [], []
        for s in self._overlay.sides:
            xs += [s.head[0] - s.radius, s.head[0] + s.radius, s.rim[0]]
            ys += [s.head[1] - s.radius, s.head[1] + s.radius, s.rim[1]]
        # Labels and markers extend a fixed number of *screen* pixels beyond the geometry, a
        # distance unknown in image units at this point; a generous image-sized margin keeps
        # them inside the repainted area at any sensible zoom.
        w, h = max(xs) - min(xs), max(ys) - min(ys)
        m = max(w, h, 50.0)
        return QRectF(min(xs) - m, min(ys) - m, w + 2 * m, h + 2 * m)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._overlay is None:
            return
        t = painter.worldTransform()
        painter.save()
        painter.resetTransform()
        paint_overlay(painter, self._overlay, lambda x, y: t.map(QPointF(x, y)), self.style)
        painter.restore()
