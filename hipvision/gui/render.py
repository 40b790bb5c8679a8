"""Offscreen rendering of an annotated radiograph (for `hipvision render` and the PDF report).

The overlay is drawn by overlay_painter.paint_overlay, the same function the canvas uses.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter

from hipvision.annotation.overlay_geometry import Overlay
from hipvision.core.imagefile import resize_area, target_size
from hipvision.core.radiograph import Radiograph
from hipvision.core.windowing import apply_window, default_window
from hipvision.gui.overlay_painter import OverlayStyle, paint_overlay


def ensure_gui_application() -> QGuiApplication:
    """The running application, or a headless one: rendering needs fonts, not a screen."""
    app = QGuiApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QGuiApplication(["hipvision"])
    return app


def gray_qimage(gray: np.ndarray) -> QImage:
    """A QImage that owns a copy of an (H, W) uint8 array."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    h, w = gray.shape
    return QImage(gray.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def render_annotated(radiograph: Radiograph, overlay: Overlay | None, *, window: tuple[float, float] | None = None,
                     invert: bool = False, max_side: int | None = None,
                     region: tuple[float, float, float, float] | None = None,
                     style: OverlayStyle | None = None, enlarge: bool = False) -> QImage:
    """The windowed radiograph with the overlay on top, as an RGB32 QImage.

    Landmarks are in full-resolution pixels. `region` = (x0, y0, x1, y1) in those pixels
    crops the output (e.g. to the hips); `max_side` shrinks it, the overlay scaled alike, and
    with `enlarge` also grows a smaller image to it (a print: the overlay is then drawn at the
    printed size, not drawn small and blown up with the pixels)."""
    ensure_gui_application()
    k_load = radiograph.width / radiograph.full_size[1]  # the radiograph may be loaded reduced
    pixels, x0, y0 = radiograph.pixels, 0.0, 0.0
    if region is not None:
        c0, r0 = max(0, int(region[0] * k_load + 0.5)), max(0, int(region[1] * k_load + 0.5))
        c1 = min(radiograph.width, int(region[2] * k_load + 0.5) + 1)
        r1 = min(radiograph.height, int(region[3] * k_load + 0.5) + 1)
        if c1 - c0 < 2 or r1 - r0 < 2:
            raise ValueError(f"render region {region} does not overlap the image")
        pixels, x0, y0 = pixels[r0:r1, c0:c1], c0, r0
    size = target_size(*pixels.shape, max_side)
    if enlarge and max_side is not None and max(pixels.shape) < max_side:
        s = max_side / max(pixels.shape)
        size = (max(1, round(pixels.shape[0] * s)), max(1, round(pixels.shape[1] * s)))
    k = k_load * size[1] / pixels.shape[1]  # output pixels per full-resolution pixel
    if max(size) < max(pixels.shape):
        pixels = resize_area(pixels, size)
    centre, width = window or default_window(radiograph)
    image = gray_qimage(apply_window(pixels, centre, width, invert=invert)).convertToFormat(QImage.Format.Format_RGB32)
    if (image.height(), image.width()) != size:
        image = image.scaled(size[1], size[0], Qt.AspectRatioMode.IgnoreAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    if overlay is not None:
        # Landmarks are full-resolution coordinates with integers at pixel centres; QPainter
        # puts integers at pixel corners, hence the half-pixel shifts.
        ox, oy = x0 / k_load, y0 / k_load
        painter = QPainter(image)
        try:
            paint_overlay(painter, overlay, lambda x, y: QPointF((x + 0.5 - ox) * k, (y + 0.5 - oy) * k),
                          style or OverlayStyle.for_output(max(size)))
        finally:
            painter.end()
    return image
