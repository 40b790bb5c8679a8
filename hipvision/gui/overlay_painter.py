"""The one piece of code that draws the landmark overlay, with a QPainter in device pixels.

The live canvas (overlay_item.OverlayItem), `hipvision render` and the PDF report all call
`paint_overlay`; only `to_device` (image -> device coordinates) and the style differ. Lines,
markers and text keep their size in device pixels whatever the zoom, which is why the
painter works untransformed instead of in image coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF

from hipvision.annotation.overlay_geometry import CENTRE_LINE_COLOUR, Overlay, SideOverlay
from hipvision.annotation.overlay_layout import LabelRequest, marker_size, place_labels

ToDevice = Callable[[float, float], QPointF]


@dataclass(frozen=True)
class OverlayStyle:
    line_px: float = 2.0
    font_px: float = 14.0
    marker_px: float = 7.0
    min_arc_px: float = 22.0

    def __post_init__(self) -> None:
        for name in ("line_px", "font_px", "marker_px", "min_arc_px"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"OverlayStyle.{name} must be a positive number, got {v!r}")

    @classmethod
    def for_output(cls, long_side_px: int) -> OverlayStyle:
        """Sizes for a rendered file: readable when the whole image is shown on a page or
        screen, i.e. proportional to the output size (a 13-px font on a 4,300-px render is
        invisible once scaled to fit)."""
        k = max(1.0, long_side_px / 1000.0)
        return cls(line_px=2.0 * k, font_px=15.0 * k, marker_px=7.0 * k, min_arc_px=24.0 * k)


    @classmethod
    def for_print(cls, dpi: float) -> OverlayStyle:
        """Physical sizes on paper: 7.5-pt labels, 0.3-mm lines, whatever the resolution."""
        mm = dpi / 25.4
        return cls(line_px=max(1.0, 0.3 * mm), font_px=7.5 / 72 * dpi, marker_px=1.3 * mm, min_arc_px=3.5 * mm)


_PEN_STYLE = {"unplaced": Qt.PenStyle.DotLine, "model": Qt.PenStyle.DashLine, "flagged": Qt.PenStyle.DashLine}
# Kinds whose landmarks no person has confirmed: markers hollow and dashed, so a doubtful
# prediction never looks like a placed measurement.
_UNCONFIRMED = ("unplaced", "model", "flagged")


def _pen(colour: str, width: float, kind: str, alpha: int = 255) -> QPen:
    c = QColor(colour)
    c.setAlpha(alpha)
    pen = QPen(c, width)
    pen.setStyle(_PEN_STYLE.get(kind, Qt.PenStyle.SolidLine))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


def _unit(a: QPointF, b: QPointF) -> tuple[float, float, float]:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    n = math.hypot(dx, dy)
    return (dx / n, dy / n, n) if n > 1e-9 else (0.0, 0.0, 0.0)


def _shadowed(painter: QPainter, draw: Callable[[QPen], None], pen: QPen, halo: float = 2.0) -> None:
    """Draw twice, first wide and dark: overlays must read on white bone and black air alike."""
    shadow = QPen(pen)
    shadow.setColor(QColor(0, 0, 0, 150))
    shadow.setWidthF(pen.widthF() + halo)
    draw(shadow)
    draw(pen)


def paint_overlay(painter: QPainter, overlay: Overlay, to_device: ToDevice,
                  style: OverlayStyle = OverlayStyle()) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    kind = overlay.kind
    alpha = 170 if kind == "unplaced" else 255
    a, b = (to_device(*s.head) for s in overlay.sides)
    _shadowed(painter, lambda p: (painter.setPen(p), painter.drawLine(a, b)),
              _pen(CENTRE_LINE_COLOUR, style.line_px * 0.75, kind, alpha))
    for s in overlay.sides:
        _paint_side(painter, s, to_device, style, kind, alpha)
    _paint_labels(painter, overlay, to_device, style)
    painter.restore()


def _arc_radius(head: QPointF, s: SideOverlay, to_device: ToDevice, style: OverlayStyle) -> tuple[float, float]:
    """(head radius, arc radius) in device px: the arc sits inside the head circle but never
    shrinks below a readable size nor reaches past the rim."""
    edge = to_device(s.head[0] + s.radius, s.head[1])
    r_dev = math.hypot(edge.x() - head.x(), edge.y() - head.y())
    rim = to_device(*s.rim)
    rim_dist = math.hypot(rim.x() - head.x(), rim.y() - head.y())
    arc = max(style.min_arc_px, min(0.55 * r_dev, 0.8 * rim_dist)) if rim_dist > 0 else style.min_arc_px
    return r_dev, arc


def _paint_side(painter: QPainter, s: SideOverlay, to_device: ToDevice, style: OverlayStyle,
                kind: str, alpha: int) -> None:
    head, rim = to_device(*s.head), to_device(*s.rim)
    r_dev, radius = _arc_radius(head, s, to_device, style)
    side_pen = _pen(s.side_colour, style.line_px, kind, alpha)
    grade_pen = _pen(s.grade_colour, style.line_px, kind, alpha)

    _shadowed(painter, lambda p: (painter.setPen(p), painter.drawEllipse(head, r_dev, r_dev)), side_pen)
    _shadowed(painter, lambda p: (painter.setPen(p), painter.drawLine(head, rim)), grade_pen)

    # The NA arc, swept from the ray to the other head to the ray to the rim.
    ux, uy, _ = _unit(head, to_device(*s.other_head))
    vx, vy, rim_dist = _unit(head, rim)
    if s.na is not None and rim_dist > 0:
        start = math.atan2(uy, ux)
        span = math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)  # signed, device orientation
        path = QPainterPath()
        n = max(8, int(abs(math.degrees(span)) / 4))
        for k in range(n + 1):
            t = start + span * k / n
            pt = QPointF(head.x() + radius * math.cos(t), head.y() + radius * math.sin(t))
            path.moveTo(pt) if k == 0 else path.lineTo(pt)
        arc_pen = QPen(grade_pen)
        arc_pen.setStyle(Qt.PenStyle.SolidLine)
        arc_pen.setWidthF(style.line_px * 1.25)
        _shadowed(painter, lambda p: (painter.setPen(p), painter.drawPath(path)), arc_pen)

    m = marker_size(r_dev, style.marker_px)
    _paint_markers(painter, s, (head, rim, to_device(*s.radius_handle)), m, style, kind)


def _marker_px(s: SideOverlay, to_device: ToDevice, style: OverlayStyle) -> float:
    head = to_device(*s.head)
    r_dev, _ = _arc_radius(head, s, to_device, style)
    return marker_size(r_dev, style.marker_px)


def _paint_markers(painter: QPainter, s: SideOverlay, points: tuple[QPointF, QPointF, QPointF], m: float,
                   style: OverlayStyle, kind: str) -> None:
    head, rim, dot = points
    # Shrunk symbols (a small head) also get a thinner halo and a hollow dot, so the head
    # outline and the rim underneath stay visible.
    small = m < style.marker_px
    width = max(1.0, style.line_px * 0.8)
    halo = 1.0 if small else 2.0
    marker_pen = QPen(QColor(s.side_colour), width)
    if kind in _UNCONFIRMED:
        marker_pen.setStyle(Qt.PenStyle.DashLine if kind == "flagged" else Qt.PenStyle.SolidLine)
    # Head centre: a cross. Rim: a diamond. Radius handle: a dot on the outline.
    def cross(p):
        painter.setPen(p)
        painter.drawLine(head + QPointF(-m, 0), head + QPointF(m, 0))
        painter.drawLine(head + QPointF(0, -m), head + QPointF(0, m))

    _shadowed(painter, cross, marker_pen, halo)
    diamond = QPolygonF([rim + QPointF(0, -m), rim + QPointF(m, 0), rim + QPointF(0, m), rim + QPointF(-m, 0)])
    _shadowed(painter, lambda p: (painter.setPen(p), painter.drawPolygon(diamond)), marker_pen, halo)
    if kind == "flagged" or small:  # hollow: an unconfirmed radius, or one on a small head
        painter.setPen(QPen(QColor(s.side_colour), width))
        painter.drawEllipse(dot, m * 0.6, m * 0.6)
    else:
        painter.setPen(QPen(QColor(0, 0, 0, 170), 1.0))
        painter.setBrush(QBrush(QColor(s.side_colour)))
        painter.drawEllipse(dot, m * 0.55, m * 0.55)
        painter.setBrush(Qt.BrushStyle.NoBrush)


def _label_text(s: SideOverlay, kind: str) -> str:
    return s.label + (" ?" if kind == "flagged" else "")  # a doubtful prediction's NA is a question


def _label_request(s: SideOverlay, metrics, to_device: ToDevice, style: OverlayStyle, kind: str) -> LabelRequest:
    head, rim = to_device(*s.head), to_device(*s.rim)
    ux, uy, _ = _unit(head, to_device(*s.other_head))
    vx, vy, _ = _unit(head, rim)
    # Along the arc's bisector, beyond the arc; straight up when the angle is degenerate.
    bx, by = ux + vx, uy + vy
    n = math.hypot(bx, by)
    bx, by = (bx / n, by / n) if n > 1e-6 else (0.0, -1.0)
    _, arc = _arc_radius(head, s, to_device, style)
    w = metrics.horizontalAdvance(_label_text(s, kind)) + style.font_px * 0.6
    h = metrics.height() + style.font_px * 0.2
    # Small (dysplastic) angles put the bisector close to the rim arm: the label must hide
    # neither the rim marker nor the arm, nor the head centre and radius handle.
    arm = [head + (rim - head) * (k / 12) for k in range(2, 13)]
    dot = to_device(*s.radius_handle)
    keep = tuple((p.x(), p.y()) for p in [head, dot, *arm])
    return LabelRequest(head=(head.x(), head.y()), towards=(bx, by), outward=(-ux, -uy) if ux or uy else (0.0, -1.0),
                        start=arc + style.font_px * 0.35, size=(w, h), keep_clear=keep)


def _paint_labels(painter: QPainter, overlay: Overlay, to_device: ToDevice, style: OverlayStyle) -> None:
    """Both NA labels, placed together (overlay_layout) so they never sit on each other."""
    kind = overlay.kind
    font = QFont()
    font.setPixelSize(max(6, round(style.font_px)))
    font.setBold(True)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    requests = [_label_request(s, metrics, to_device, style, kind) for s in overlay.sides]
    markers = [_marker_px(s, to_device, style) for s in overlay.sides]
    boxes = place_labels(requests, clearance=max(2.0, 1.5 * max(markers)))
    for s, b in zip(overlay.sides, boxes):
        box = QRectF(b.x0, b.y0, b.width, b.height)
        h = b.height
        painter.setPen(QPen(QColor(s.grade_colour), max(1.0, style.line_px * 0.6),
                            _PEN_STYLE.get(kind, Qt.PenStyle.SolidLine)))
        painter.setBrush(QBrush(QColor(0, 0, 0, 185)))
        painter.drawRoundedRect(box, h * 0.25, h * 0.25)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(s.grade_colour).lighter(135)))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, _label_text(s, kind))
