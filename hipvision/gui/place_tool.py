"""Place hips with two clicks: the assist for radiographs where the model is unsure.

The vet clicks near each femoral head; the tool marks the clicks and, on the second one,
emits `placed(heads)` ((x, y) of both clicks, full-resolution pixels). The window sends them
to the engine, where stage 2 refines centre, radius and rim from there, and applies the answer
as one undoable edit. Esc or the action again cancels. The tool owns its markers; the canvas
only forwards clicks and Esc while a tool is active.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

PLACE_CLICKS = 2


class PlaceTool(QObject):
    placed = Signal(object)  # ((x1, y1), (x2, y2)) full-resolution pixels
    activeChanged = Signal(bool)
    message = Signal(str)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas
        self.markers = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#000000", width=1.5), brush=pg.mkBrush("#4fc3f7"),
                                          symbol="+")
        self.markers.setZValue(26)
        canvas.vb.addItem(self.markers, ignoreBounds=True)
        self._clicks: list[tuple[float, float]] | None = None

    @property
    def active(self) -> bool:
        return self._clicks is not None

    def start(self) -> None:
        if self.canvas.loaded is None:
            return
        self.canvas.cancel_circle_mode()
        self._clicks = []
        self.markers.setData([], [])
        self.canvas.click_tool = self
        self.canvas.set_handles_hidden(True)  # a click near a handle must not grab it
        self.message.emit("Click near the centre of each femoral head (Esc cancels)")
        self.activeChanged.emit(True)

    def cancel(self, message: str = "") -> None:
        if self._clicks is None:
            return
        self._clicks = None
        self.markers.setData([], [])
        self.canvas.click_tool = None
        self.canvas.set_handles_hidden(False)
        self.message.emit(message)
        self.activeChanged.emit(False)

    def add_click(self, x: float, y: float) -> None:
        if self._clicks is None:
            return
        self._clicks.append((float(x), float(y)))
        self.markers.setData([p[0] for p in self._clicks], [p[1] for p in self._clicks])
        if len(self._clicks) < PLACE_CLICKS:
            self.message.emit("Now click near the other femoral head")
            return
        heads = tuple(self._clicks)
        self.cancel("Refining the hips from your clicks…")
        self.placed.emit(heads)
