"""Status icons for the image list, drawn in code (no files to ship, crisp at any DPI)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap, QPolygonF

STATUS_COLOURS = {
    "new": "#9e9e9e",
    "predicted": "#29b6f6",
    "flagged": "#d84315",  # a doubtful prediction: shown, never graded, until reviewed
    "edited": "#ffa726",
    "verified": "#43a047",
    "error": "#e53935",
}
SYNTHETIC_COLOUR = "#ab47bc"
STATUS_TOOLTIPS = {
    "new": "New: no landmarks yet",
    "predicted": "Predicted by the model: to review",
    "flagged": "Doubtful prediction: not a measurement until you correct or verify it",
    "edited": "Edited by a person",
    "verified": "Verified",
    "error": "Unreadable",
}
_GLYPHS = {"predicted": "M", "flagged": "?", "edited": "✎", "verified": "✓", "error": "!"}


@cache
def status_icon(status: str, synthetic: bool = False, size: int = 32) -> QIcon:
    if status not in STATUS_COLOURS:
        raise ValueError(f"status must be one of {sorted(STATUS_COLOURS)}, got {status!r}")
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(STATUS_COLOURS[status])
    m = size * 0.08
    body = QRectF(m, m, size - 2 * m, size - 2 * m)
    if status == "new":
        p.setPen(QPen(colour, size * 0.1))
        p.drawEllipse(body.adjusted(size * 0.06, size * 0.06, -size * 0.06, -size * 0.06))
    elif status == "flagged":  # a square, so it differs from the round statuses by shape too
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(colour))
        p.drawRoundedRect(body, size * 0.12, size * 0.12)
    elif status == "error":
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(colour))
        p.drawPolygon(QPolygonF([QPointF(size / 2, m), QPointF(size - m, size - m), QPointF(m, size - m)]))
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(colour))
        p.drawEllipse(body)
    glyph = _GLYPHS.get(status)
    if glyph:
        f = QFont()
        f.setPixelSize(int(size * 0.55))
        f.setBold(True)
        p.setFont(f)
        p.setPen(QPen(QColor("#ffffff")))
        text_box = body.adjusted(0, size * 0.12, 0, 0) if status == "error" else body
        p.drawText(text_box, Qt.AlignmentFlag.AlignCenter, glyph)
    if synthetic:
        b = size * 0.42
        badge = QRectF(size - b, size - b, b, b)
        p.setPen(QPen(QColor("#ffffff"), size * 0.05))
        p.setBrush(QBrush(QColor(SYNTHETIC_COLOUR)))
        p.drawRoundedRect(badge, b * 0.25, b * 0.25)
        f = QFont()
        f.setPixelSize(int(b * 0.8))
        f.setBold(True)
        p.setFont(f)
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, "S")
    p.end()
    return QIcon(pm)


def status_tooltip(status: str, synthetic: bool, error: str | None = None) -> str:
    text = STATUS_TOOLTIPS.get(status, status)
    if synthetic:
        text += " · synthetic (generated) image"
    if error:
        text += f"\n{error}"
    return text
