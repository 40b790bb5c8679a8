"""The radiograph canvas: image with window/level, zoom/pan, landmark overlay and handles.

The canvas edits nothing itself. While a handle is dragged it redraws and emits
`previewChanged` (the readout follows); on release, a nudge or a 3-point fit it emits
`editFinished(landmarks, description)` once, and the window turns that into one undo
command that writes the store, which then comes back through `set_annotation`.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel

from hipvision.annotation.landmark_edit import (
    ALL_HANDLES,
    HandleKey,
    apply_circle_fit,
    handle_position,
    hips_box,
    move_handle,
    nudge_handle,
)
from hipvision.annotation.overlay_geometry import SIDE_COLOURS, build_overlay
from hipvision.core.geometry import GeometryError, fit_circle
from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.image_cache import LoadedImage
from hipvision.core.image_pyramid import Crop
from hipvision.core.landmarks import HipLandmarks, SideMapping
from hipvision.core.window_level import dragged_window, levels
from hipvision.gui.handles import HandleItem
from hipvision.gui.overlay_item import OverlayItem
from hipvision.gui.view_box import RadiographViewBox

_INVERTED_LUT = np.arange(255, -1, -1, dtype=np.uint8)
CIRCLE_POINTS = 3


class Canvas(pg.GraphicsView):
    previewChanged = Signal(object)  # HipLandmarks during a drag: redraw only, nothing saved
    editFinished = Signal(object, str)  # HipLandmarks, description: save + one undo command
    windowChanged = Signal(float, float)  # centre, width
    selectionChanged = Signal(object)  # HandleKey | None
    cursorMoved = Signal(str)
    message = Signal(str)
    circleModeChanged = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent, background="#0b0b0b")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.vb = RadiographViewBox()
        self.setCentralItem(self.vb)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image_item)
        self.overlay_item = OverlayItem()
        self.vb.addItem(self.overlay_item, ignoreBounds=True)
        self.handles: dict[HandleKey, HandleItem] = {}
        for key in ALL_HANDLES:
            h = HandleItem(key, SIDE_COLOURS[key.side])
            self.vb.addItem(h, ignoreBounds=True)
            h.pressed.connect(self._on_handle_pressed)
            h.moved.connect(self._on_handle_moved)
            h.released.connect(self._on_handle_released)
            h.hovered.connect(self._on_handle_hovered)
            self.handles[key] = h
        for key, h in self.handles.items():  # a tiny radius stays grabbable (handles.MIN_ANCHOR_DISTANCE_PX)
            h.anchor = self.handles[HandleKey(key.side, "head")] if key.part == "radius" else None
        self.hover_label = pg.TextItem(color="#ffffff", fill=pg.mkBrush(0, 0, 0, 200), anchor=(0, 1.3))
        self.hover_label.setZValue(30)
        self.hover_label.hide()
        self.vb.addItem(self.hover_label, ignoreBounds=True)
        self.circle_item = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#000000"), brush=pg.mkBrush("#ffee58"),
                                              symbol="x")
        self.circle_item.setZValue(25)
        self.vb.addItem(self.circle_item, ignoreBounds=True)

        self._message = QLabel(self)
        self._message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._message.setWordWrap(True)
        self._message.setStyleSheet("color: #f0f0f0; font-size: 15px; background: transparent;")
        self._message.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._message.hide()
        self._banner = QLabel(self)
        self._banner.setStyleSheet("color: #1b1b1b; background: rgba(255, 213, 79, 225); padding: 4px 10px;"
                                   " border-radius: 4px; font-weight: bold;")
        self._banner.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._banner.hide()

        self._loaded: LoadedImage | None = None
        self._crop: Crop | None = None
        self._window = (0.5, 1.0)
        self._invert = False
        self._landmarks: HipLandmarks | None = None
        self._mapping = SideMapping()
        self._kind = "user"
        self.thresholds: GradeThresholds = DEFAULT_THRESHOLDS
        self._drag_start: HipLandmarks | None = None
        self._preview: HipLandmarks | None = None
        self._selected: HandleKey | None = None
        self._circle_points: list[tuple[float, float]] | None = None
        self.click_tool = None  # a tool that takes the image clicks (place hips), or None
        self._handles_hidden = False

        # 'fit' or 'hips': re-applied on resize and for each new image until the user zooms or
        # pans by hand (None), so paging through a study keeps the view the user chose.
        self._view_mode: str | None = "fit"
        self._last_mode = "fit"
        self.vb.sigRangeChanged.connect(self._update_display)
        self.vb.sigRangeChangedManually.connect(self._on_manual_range)
        self.vb.sigResized.connect(self._on_resized)
        self.vb.windowDragged.connect(self._on_window_dragged)
        self.vb.clicked.connect(self._on_clicked)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._set_handles_visible(False)

    # ------------------------------------------------------------------ image

    @property
    def loaded(self) -> LoadedImage | None:
        return self._loaded

    def set_image(self, loaded: LoadedImage | None, message: str = "") -> None:
        """Show a decoded radiograph (fitted, with its default window), or a message instead."""
        if self.click_tool is not None:  # clicks on the previous image mean nothing here
            self.click_tool.cancel()
        self._loaded = loaded
        self._crop = None
        self._landmarks = self._preview = self._drag_start = None  # the previous image's
        self.cancel_circle_mode()
        if loaded is None:
            self.image_item.clear()
            self.set_annotation(None, SideMapping(), "user")
            self._message.setText(message)
            self._message.setVisible(bool(message))
            return
        self._message.hide()
        self._window = loaded.window
        self._view_mode = self._last_mode
        self._apply_view_mode()
        self._update_display(force=True)
        self.windowChanged.emit(*self._window)

    def _view_needs(self) -> tuple[int, tuple[float, float, float, float]] | None:
        if self._loaded is None:
            return None
        pyr = self._loaded.pyramid
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w_px = max(1.0, self.vb.width())
        level = pyr.level_for((x1 - x0) / w_px)
        h, w = pyr.shape
        box = (max(-0.5, x0), max(-0.5, y0), min(w - 0.5, x1), min(h - 0.5, y1))
        return level, box

    def _update_display(self, *args, force: bool = False) -> None:
        need = self._view_needs()
        if need is None:
            return
        level, box = need
        if not force and self._crop is not None and self._crop.contains(level, *box):
            return
        pyr = self._loaded.pyramid
        self._crop = pyr.crop(level, *box)
        self.image_item.setImage(pyr.pixels(self._crop), autoLevels=False, levels=levels(*self._window),
                                 lut=_INVERTED_LUT if self._invert else None)
        self.image_item.setRect(QRectF(*self._crop.rect))

    def fit_view(self) -> None:
        """The whole image, kept fitted on resize and for the next images."""
        self._view_mode = self._last_mode = "fit"
        self._apply_view_mode()

    def zoom_to_hips(self) -> None:
        """Both hips with some pelvis around them; kept for the next images."""
        self._view_mode = self._last_mode = "hips"
        self._apply_view_mode()

    def _apply_view_mode(self) -> None:
        if self._loaded is None or self._view_mode is None:
            return
        h, w = self._loaded.pyramid.shape
        lm = self._landmarks
        if self._view_mode == "hips" and lm is not None:
            x0, y0, x1, y1 = hips_box(lm)
            self.vb.setRange(QRectF(x0, y0, x1 - x0, y1 - y0), padding=0.0)
        else:
            self.vb.setRange(QRectF(-0.5, -0.5, w, h), padding=0.02)

    def _on_resized(self, *args) -> None:
        self._apply_view_mode()
        self._update_display()

    def _on_manual_range(self, *args) -> None:
        self._view_mode = None

    def zoom(self, factor: float) -> None:
        """factor > 1 zooms in, about the view centre."""
        self._view_mode = None
        self.vb.scaleBy((1.0 / factor, 1.0 / factor))

    def zoom_actual_pixels(self) -> None:
        """One image pixel per screen pixel, about the view centre."""
        (x0, x1), _ = self.vb.viewRange()
        self.zoom((x1 - x0) / max(1.0, self.vb.width()))

    # ------------------------------------------------------------------ window/level

    @property
    def window(self) -> tuple[float, float]:
        return self._window

    @property
    def inverted(self) -> bool:
        return self._invert

    def set_window(self, centre: float, width: float) -> None:
        if not (math.isfinite(centre) and math.isfinite(width) and width > 0):
            return
        self._window = (float(centre), float(width))
        # Levels only: pyqtgraph re-maps the displayed crop (a screenful), no uint8 copy of the image.
        self.image_item.setLevels(levels(*self._window))
        self.windowChanged.emit(*self._window)

    def set_inverted(self, invert: bool) -> None:
        self._invert = bool(invert)
        self.image_item.setLookupTable(_INVERTED_LUT if self._invert else None)

    def _on_window_dragged(self, dx: float, dy: float, finished: bool) -> None:
        if self._loaded is not None:
            self.set_window(*dragged_window(*self._window, dx, dy))

    # ------------------------------------------------------------------ annotation

    @property
    def landmarks(self) -> HipLandmarks | None:
        """What is drawn now (the preview during a drag)."""
        return self._preview if self._preview is not None else self._landmarks

    @property
    def mapping(self) -> SideMapping:
        return self._mapping

    @property
    def dragging(self) -> bool:
        return self._drag_start is not None

    def set_annotation(self, landmarks: HipLandmarks | None, mapping: SideMapping, kind: str) -> None:
        """Show stored landmarks (or the unplaced default). Ends any drag preview."""
        first = self._landmarks is None
        self._landmarks, self._mapping, self._kind = landmarks, mapping, kind
        self._drag_start = self._preview = None
        self._show(landmarks)
        if first and self._view_mode == "hips":
            self._apply_view_mode()  # the hips are known only now

    def set_banner(self, text: str | None) -> None:
        self._banner.setText(text or "")
        self._banner.setVisible(bool(text))
        self._place_labels()

    def _show(self, lm: HipLandmarks | None) -> None:
        if lm is None:
            self.overlay_item.set_overlay(None)
            self._set_handles_visible(False)
            return
        self.overlay_item.set_overlay(build_overlay(lm, self._mapping, self._kind, self.thresholds))
        for key, h in self.handles.items():
            h.setPos(*handle_position(lm, key))
        self._set_handles_visible(self._circle_points is None)

    def _set_handles_visible(self, visible: bool) -> None:
        visible = visible and not self._handles_hidden
        for h in self.handles.values():
            h.setVisible(visible)
        if not visible:
            self.hover_label.hide()

    # ------------------------------------------------------------------ selection, drag, nudge

    @property
    def selected(self) -> HandleKey | None:
        return self._selected

    def select(self, key: HandleKey | None) -> None:
        if key == self._selected:
            return
        self._selected = key
        for k, h in self.handles.items():
            h.set_selected(k == key)
        self.selectionChanged.emit(key)

    def _on_handle_pressed(self, key: HandleKey) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.select(key)

    def _on_handle_moved(self, key: HandleKey, x: float, y: float) -> None:
        if self._landmarks is None:
            return
        if self._drag_start is None:
            self._drag_start = self._landmarks
        self._preview = move_handle(self._drag_start, key, x, y)
        self._show(self._preview)
        self.previewChanged.emit(self._preview)

    def _on_handle_released(self, key: HandleKey) -> None:
        start, after = self._drag_start, self._preview
        self._drag_start = self._preview = None
        if start is None or after is None:
            return
        if after == start:
            self._show(start)
            return
        self.editFinished.emit(after, f"Move {key.name.lower()}")

    def _on_handle_hovered(self, key: HandleKey, on: bool) -> None:
        if on:
            self.hover_label.setText(key.name)
            self.hover_label.setPos(self.handles[key].pos())
            self.hover_label.show()
        else:
            self.hover_label.hide()

    def nudge(self, dx: float, dy: float) -> bool:
        """Move the selected landmark by (dx, dy) image pixels: a finished edit of its own."""
        if self._selected is None or self._landmarks is None or self.dragging:
            return False
        after = nudge_handle(self._landmarks, self._selected, dx, dy)
        self.editFinished.emit(after, f"Nudge {self._selected.name.lower()}")
        return True

    def keyPressEvent(self, ev) -> None:
        steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        key = Qt.Key(ev.key())
        if key in steps and self._selected is not None:
            k = 10 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            self.nudge(steps[key][0] * k, steps[key][1] * k)
            ev.accept()
            return
        if key == Qt.Key.Key_Tab and self._landmarks is not None:
            i = ALL_HANDLES.index(self._selected) + 1 if self._selected in ALL_HANDLES else 0
            self.select(ALL_HANDLES[i % len(ALL_HANDLES)])
            ev.accept()
            return
        if key == Qt.Key.Key_Escape:
            if self.click_tool is not None:
                self.click_tool.cancel()
            elif self._circle_points is not None:
                self.cancel_circle_mode()
            else:
                self.select(None)
            ev.accept()
            return
        super().keyPressEvent(ev)

    def focusNextPrevChild(self, forward: bool) -> bool:
        return False  # Tab cycles landmarks here instead of moving focus

    # ------------------------------------------------------------------ 3-point circle

    @property
    def circle_mode(self) -> bool:
        return self._circle_points is not None

    def start_circle_mode(self) -> None:
        if self._landmarks is None:
            return
        self._circle_points = []
        self.circle_item.setData([], [])
        self.select(None)
        self._set_handles_visible(False)  # clicks on the outline must not grab a handle
        self.message.emit(f"Click {CIRCLE_POINTS} points on a femoral head outline (Esc cancels)")
        self.circleModeChanged.emit(True)

    def cancel_circle_mode(self) -> None:
        if self._circle_points is not None:
            self._circle_points = None
            self.circle_item.setData([], [])
            self._set_handles_visible(self.landmarks is not None)
            self.message.emit("")
            self.circleModeChanged.emit(False)

    def set_handles_hidden(self, hidden: bool) -> None:
        """Hide the handles while a click tool collects points, whatever the annotation."""
        self._handles_hidden = bool(hidden)
        self._set_handles_visible(self.landmarks is not None)

    def _on_clicked(self, x: float, y: float) -> None:
        if self.click_tool is not None:
            self.click_tool.add_click(x, y)
            return
        if self._circle_points is None:
            self.select(None)
            return
        self._circle_points.append((x, y))
        pts = self._circle_points
        self.circle_item.setData([p[0] for p in pts], [p[1] for p in pts])
        if len(pts) < CIRCLE_POINTS:
            self.message.emit(f"Point {len(pts)} of {CIRCLE_POINTS} on the head outline")
            return
        self.cancel_circle_mode()
        try:
            fit = fit_circle(pts)
            after, side = apply_circle_fit(self._landmarks, fit)
        except GeometryError as exc:
            self.message.emit(f"No circle: {exc}")
            return
        self.editFinished.emit(after, f"Fit {side.value} head circle ({fit.n_points} points)")
        self.message.emit(f"{side.value.capitalize()} head circle fitted through {fit.n_points} points: "
                          f"r = {fit.r:.1f} px, rms residual {fit.rms_residual:.2f} px")

    # ------------------------------------------------------------------ geometry helpers

    def image_to_viewport(self, x: float, y: float) -> QPoint:
        """Where an image point is on the viewport (for tests and tooltips)."""
        return self.mapFromScene(self.vb.mapViewToScene(QPointF(x, y)))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._loaded is None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        value = self._loaded.pyramid.value_at(p.x(), p.y())
        if value is not None:
            self.cursorMoved.emit(f"x {p.x():.0f}  y {p.y():.0f}  value {value:g}")

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._place_labels()

    def _place_labels(self) -> None:
        if not hasattr(self, "_banner"):
            return  # pyqtgraph resizes once from inside GraphicsView.__init__
        self._message.setGeometry(self.rect().adjusted(40, 40, -40, -40))
        if self._banner.isVisible():
            self._banner.adjustSize()
            self._banner.move((self.width() - self._banner.width()) // 2, 10)
