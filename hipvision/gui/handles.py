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
# A radius handle closer than this to its head centre (a tiny predicted radius, or zoomed far
# out) gets its hit area pushed outwards to this distance, so it no longer lies under the
# centre's: grabbing it changes the radius instead of moving the centre. The drag keeps the
# grab offset, so the radius grows smoothly from its value.
MIN_ANCHOR_DISTANCE_PX = 2 * HIT_RADIUS_PX + 3
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
        self.anchor: HandleItem | None = None  # a radius handle's head centre handle
        # Constant screen size whatever the zoom; position stays in image coordinates.
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.SizeAllCursor)
        self.setToolTip(key.name)
        self.setZValue(Z_BY_PART[key.part])

    def boundingRect(self) -> QRectF:
        r = HIT_RADIUS_PX + 2 + (MIN_ANCHOR_DISTANCE_PX if self.anchor is not None else 0)
        return QRectF(-r, -r, 2 * r, 2 * r)

    def hit_offset(self) -> QPointF:
        """Where the hit area sits relative to the landmark, in device px (see MIN_ANCHOR_DISTANCE_PX).
        pyqtgraph's scene coordinates are the view's pixels, so scene positions measure it."""
        if self.anchor is None or not self.anchor.isVisible():
            return QPointF()
        d = self.scenePos() - self.anchor.scenePos()
        n = (d.x() ** 2 + d.y() ** 2) ** 0.5
        if n >= MIN_ANCHOR_DISTANCE_PX:
            return QPointF()
        ux, uy = (d.x() / n, d.y() / n) if n > 1e-6 else (0.7071, 0.7071)  # lateral-caudal, as drawn
        return QPointF(ux, uy) * (MIN_ANCHOR_DISTANCE_PX - n)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.hit_offset(), HIT_RADIUS_PX, HIT_RADIUS_PX)
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
        at = self.hit_offset()
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3.5))
        painter.drawEllipse(at, HIT_RADIUS_PX, HIT_RADIUS_PX)
        painter.setPen(QPen(colour, 1.8))
        painter.drawEllipse(at, HIT_RADIUS_PX, HIT_RADIUS_PX)
        if not at.isNull():  # tie the pushed-out ring to the landmark it moves
            painter.drawLine(QPointF(0, 0), at)

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
