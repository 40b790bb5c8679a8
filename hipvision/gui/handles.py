"""Draggable landmark handles: the hit area, hover name and selection ring of one landmark.

The landmark's marker itself is drawn by the overlay (overlay_painter), so a render and
the canvas look the same; a handle adds only what is interactive. Signals follow
pyqtgraph's two tiers: `moved` on every mouse move of a drag (redraw only), `released`
once when the button goes up (save, push one undo command).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from hipvision.annotation.landmark_edit import HandleKey

HIT_RADIUS_PX = 9.0  # device pixels: easy to grab at any zoom
# When handles overlap (a small head seen zoomed out), the centre wins, then the rim: the
# radius can still be set by zooming in, a lost centre drag is far more annoying.
Z_BY_PART = {"head": 22, "rim": 21, "radius": 20}


class HandleItem(QGraphicsObject):
    pressed = Signal(object)  # HandleKey: selects the handle
    moved = Signal(object, float, float)  # HandleKey, image x, image y
    released = Signal(object)
    hovered = Signal(object, bool)

    def __init__(self, key: HandleKey, colour: str, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.key = key
        self._colour = QColor(colour)
        self._hover = False
        self._selected = False
        self._offset = QPointF()
        # Constant screen size whatever the zoom; position stays in image coordinates.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setToolTip(key.name)
        self.setZValue(Z_BY_PART[key.part])

    def boundingRect(self) -> QRectF:
        r = HIT_RADIUS_PX + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), HIT_RADIUS_PX, HIT_RADIUS_PX)
        return path

    def set_selected(self, selected: bool) -> None:
        if selected != self._selected:
            self._selected = selected
            self.update()

    @property
    def is_selected(self) -> bool:
        return self._selected

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not (self._hover or self._selected):
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        colour = QColor("#ffffff") if self._selected else QColor(self._colour)
        colour.setAlpha(255 if self._selected else 200)
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3.5))
        painter.drawEllipse(QPointF(0, 0), HIT_RADIUS_PX, HIT_RADIUS_PX)
        painter.setPen(QPen(colour, 1.8))
        painter.drawEllipse(QPointF(0, 0), HIT_RADIUS_PX, HIT_RADIUS_PX)

    # pyqtgraph's scene delivers these (GraphicsScene.mouseDragEvent / hoverEvent).
    def hoverEvent(self, ev) -> None:
        hover = not ev.isExit() and ev.acceptDrags(Qt.MouseButton.LeftButton)
        if hover:
            ev.acceptClicks(Qt.MouseButton.LeftButton)
        if hover != self._hover:
            self._hover = hover
            self.update()
            self.hovered.emit(self.key, hover)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.pressed.emit(self.key)

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        parent = self.parentItem()
        if ev.isStart():
            # Keep the grab offset: the landmark must not jump to the cursor's hot spot.
            self._offset = self.pos() - parent.mapFromScene(ev.buttonDownScenePos())
            self.pressed.emit(self.key)
        p = parent.mapFromScene(ev.scenePos()) + self._offset
        self.moved.emit(self.key, p.x(), p.y())
        if ev.isFinish():
            self.released.emit(self.key)
