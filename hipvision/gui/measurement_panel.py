"""The live readout: each hip's NA (0.1°), grade hint, BVA-style points, radius, distance.

`show_landmarks` runs on every mouse move of a drag, so it only sets label texts (no
layout rebuild, no store access) and skips labels whose text did not change.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from hipvision.annotation.overlay_geometry import SIDE_COLOURS, build_overlay
from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.landmarks import HipLandmarks, SideMapping
from hipvision.core.units import distance_mm, length_mm

_KIND_TEXT = {
    "unplaced": ("#ffd54f", "Unplaced — default positions, not a measurement. Drag the landmarks, "
                            "or press V to accept them."),
    "model": ("#81d4fa", "Prediction by {author} — review and correct, then press V."),
    "flagged": ("#ff8a65", "<b>Doubtful prediction</b> by {author} — not a measurement: no grade or points "
                           "until you correct the landmarks or verify them (V)."),
    "user": ("#e0e0e0", "Edited by {author}."),
    "verified": ("#a5d6a7", "Verified ✓ ({author})."),
}
UNGRADED = {"unplaced": "– (unplaced)", "flagged": "– (not reviewed)"}  # what an ungraded hip reads
ROWS = ("na", "grade", "bva", "radius")
ROW_TITLES = {"na": "Norberg angle", "grade": "Grade hint", "bva": "BVA-style points", "radius": "Head radius"}


class MeasurementPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.thresholds: GradeThresholds = DEFAULT_THRESHOLDS
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.info)
        top_line = QFrame()
        top_line.setFrameShape(QFrame.Shape.HLine)
        outer.addWidget(top_line)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        outer.addLayout(grid)
        self._headers = [QLabel(), QLabel()]
        self._cells: dict[tuple[str, int], QLabel] = {}
        for col, h in enumerate(self._headers, start=1):
            h.setTextFormat(Qt.TextFormat.RichText)
            grid.addWidget(h, 0, col)
        big = QFont()
        big.setPointSizeF(big.pointSizeF() * 1.6)
        big.setBold(True)
        for row, name in enumerate(ROWS, start=1):
            grid.addWidget(QLabel(ROW_TITLES[name]), row, 0)
            for col in (1, 2):
                cell = QLabel("–")
                cell.setTextFormat(Qt.TextFormat.RichText)
                cell.setMinimumWidth(110)
                if name == "na":
                    cell.setFont(big)
                grid.addWidget(cell, row, col)
                self._cells[(name, col - 1)] = cell
        self.distance = QLabel("–")
        grid.addWidget(QLabel("Centre distance"), len(ROWS) + 1, 0)
        grid.addWidget(self.distance, len(ROWS) + 1, 1, 1, 2)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        outer.addWidget(line)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.source.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.source)
        self.note = QLabel()
        self.note.setWordWrap(True)
        outer.addWidget(self.note)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #9e9e9e; font-size: 11px;")
        outer.addWidget(self.hint)
        outer.addStretch(1)
        self._texts: dict[QLabel, str] = {}
        self._plain: dict[int, str] = {}  # column -> NA text without markup
        self._spacing: tuple[float, float] | None = None
        self._mapping = SideMapping()
        self._kind: str | None = None
        self.set_thresholds(self.thresholds)

    def set_thresholds(self, thresholds: GradeThresholds) -> None:
        self.thresholds = thresholds
        self.hint.setText(f"Grade hints (NA ≥ {thresholds.normal_min:g}° normal, ≥ {thresholds.borderline_min:g}° "
                          "borderline) support the reading; they are not a diagnosis.")

    def _set(self, label: QLabel, text: str) -> None:
        if self._texts.get(label) != text:
            self._texts[label] = text
            label.setText(text)

    def na_text(self, side: str) -> str:
        """The NA as the user reads it for a patient side, e.g. '108.3°' (for tests and tools)."""
        for i, col_side in enumerate(self._sides()):
            if col_side.value == side:
                return self._plain.get(i, "–")
        raise ValueError(f"side must be left or right, got {side!r}")

    def grade_text(self, side: str) -> str:
        """The grade hint cell as the user reads it for a patient side, e.g. '■ suspect'."""
        for i, col_side in enumerate(self._sides()):
            if col_side.value == side:
                return self._cells[("grade", i)].text().split("</span>")[-1].strip()
        raise ValueError(f"side must be left or right, got {side!r}")

    def bva_text(self, side: str) -> str:
        """The BVA-style points cell for a patient side, e.g. '2' or '–'."""
        for i, col_side in enumerate(self._sides()):
            if col_side.value == side:
                return self._cells[("bva", i)].text()
        raise ValueError(f"side must be left or right, got {side!r}")

    def _sides(self):
        first = self._mapping.patient_side_of_image_left()
        return (first, first.other)

    def set_context(self, *, mapping: SideMapping, spacing: tuple[float, float] | None, kind: str | None,
                    author: str | None = None, note: str = "", facts: list[tuple[str, str]] = ()) -> None:
        """Per-image facts that do not change during a drag."""
        self._mapping, self._spacing, self._kind = mapping, spacing, kind
        rows = "".join(f"<tr><td style='color:#9e9e9e; padding-right:8px'>{escape(k)}</td><td>{escape(v)}</td></tr>"
                       for k, v in facts)
        self._set(self.info, f"<table>{rows}</table>" if rows else "")
        for i, side in enumerate(self._sides()):
            where = "image left" if i == 0 else "image right"
            self._set(self._headers[i], f"<b style='color:{SIDE_COLOURS[side]}'>{side.value.capitalize()} hip</b>"
                                        f" <span style='color:#9e9e9e'>({where})</span>")
        if kind is None:
            self._set(self.source, "")
        else:
            colour, text = _KIND_TEXT[kind]
            self._set(self.source, f"<span style='color:{colour}'>{text.format(author=author or 'user')}</span>")
        self._set(self.note, note)

    def show_landmarks(self, lm: HipLandmarks | None) -> None:
        if lm is None:
            self._plain.clear()
            for cell in self._cells.values():
                self._set(cell, "–")
            self._set(self.distance, "–")
            return
        overlay = build_overlay(lm, self._mapping, self._kind or "user", thresholds=self.thresholds)
        for i, s in enumerate(overlay.sides):
            colour = s.grade_colour
            na = f"{s.na:.1f}°" if s.na is not None else "undefined"
            self._plain[i] = na
            self._set(self._cells[("na", i)], f"<span style='color:{colour}'>{na}</span>")
            grade = s.grade.value if s.grade is not None else UNGRADED.get(self._kind, "–")
            self._set(self._cells[("grade", i)], f"<span style='color:{colour}'>■</span> {grade}")
            self._set(self._cells[("bva", i)], "–" if s.bva is None else str(s.bva))
            r = f"{s.radius:.1f} px"
            if self._spacing is not None:
                r += f" · {length_mm(s.radius, self._spacing):.1f} mm"
            self._set(self._cells[("radius", i)], r)
        d = f"{lm.centre_distance_px():.1f} px"
        if self._spacing is not None:
            d += f" · {distance_mm(lm.left.head, lm.right.head, self._spacing):.1f} mm"
        self._set(self.distance, d)
