"""The project's images: status icon, name, each hip's NA, the worst grade; a filter."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from hipvision.annotation.state import AnnotationState, row_summary
from hipvision.core.grading import DEFAULT_THRESHOLDS, GRADE_COLOURS, GradeThresholds, grade_hint
from hipvision.core.landmarks import Side
from hipvision.core.records import ImageRecord
from hipvision.gui.icons import STATUS_COLOURS, status_icon, status_tooltip

# Each filter sees the record and the row's display status ('flagged' for a doubtful
# prediction, else the stored status).
FILTERS = {
    "All images": lambda r, s: True,
    "To review (new, predicted)": lambda r, s: r.status in ("new", "predicted"),
    "Doubtful predictions": lambda r, s: s == "flagged",
    "Edited": lambda r, s: r.status == "edited",
    "Verified": lambda r, s: r.status == "verified",
    "Unreadable": lambda r, s: r.status == "error",
    "Synthetic": lambda r, s: r.source == "synthetic",
}
UNGRADED_TEXT = {"unplaced": "", "flagged": "check"}
UNGRADED_COLOUR = "#9e9e9e"
COLUMNS = ("Image", "R NA", "L NA", "Grade")
ID_ROLE = Qt.ItemDataRole.UserRole


class ImageListPanel(QWidget):
    currentImageChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thresholds: GradeThresholds = DEFAULT_THRESHOLDS
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.filter = QComboBox()
        self.filter.addItems(list(FILTERS))
        self.filter.currentTextChanged.connect(self._apply_filter)
        layout.addWidget(self.filter)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, header.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_current)
        layout.addWidget(self.tree)
        self._items: dict[int, QTreeWidgetItem] = {}
        self._records: dict[int, ImageRecord] = {}
        self._display: dict[int, str] = {}

    def set_rows(self, states: list[AnnotationState]) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        self._records.clear()
        self._display.clear()
        for state in states:
            item = QTreeWidgetItem()
            item.setData(0, ID_ROLE, state.image.id)
            self._items[state.image.id] = item
            self._fill(item, state)
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        self._apply_filter()

    def update_row(self, state: AnnotationState) -> None:
        item = self._items.get(state.image.id)
        if item is not None:
            self._fill(item, state)
            keep = self._keep(state.image.id)
            item.setHidden(not keep and item is not self.tree.currentItem())

    def display_status(self, image_id: int) -> str | None:
        """The status the row shows: 'flagged' for a doubtful prediction, else the stored one."""
        return self._display.get(image_id)

    def _keep(self, image_id: int) -> bool:
        return FILTERS[self.filter.currentText()](self._records[image_id], self._display[image_id])

    def _fill(self, item: QTreeWidgetItem, state: AnnotationState) -> None:
        rec = state.image
        self._records[rec.id] = rec
        kind = state.kind if not rec.error else "user"
        status = "flagged" if kind == "flagged" else rec.status
        self._display[rec.id] = status
        item.setIcon(0, status_icon(status, rec.is_synthetic))
        item.setText(0, rec.name)
        tip = f"{rec.path}\n{status_tooltip(status, rec.is_synthetic, rec.error)}"
        if kind == "flagged":
            tip += f"\n{state.assessment.summary()}"
        item.setToolTip(0, tip)
        if rec.error:
            item.setForeground(0, QBrush(QColor("#e57373")))
            for c in (1, 2, 3):
                item.setText(c, "")
            item.setText(3, "unreadable")
            item.setToolTip(3, rec.error)
            return
        summary = row_summary(state.landmarks, self.thresholds, kind)
        item.setText(1, summary.text(Side.RIGHT))
        item.setText(2, summary.text(Side.LEFT))
        for c, side in ((1, Side.RIGHT), (2, Side.LEFT)):
            if side in summary.na:
                colour = (GRADE_COLOURS[grade_hint(summary.na[side], self.thresholds)] if summary.worst is not None
                          else UNGRADED_COLOUR)  # no grade colour for what is not a measurement yet
                item.setForeground(c, QBrush(QColor(colour)))
        if summary.worst is not None:
            item.setText(3, summary.worst.value)
            item.setForeground(3, QBrush(QColor(GRADE_COLOURS[summary.worst])))
        else:
            item.setText(3, UNGRADED_TEXT.get(kind, ""))
            item.setForeground(3, QBrush(QColor(STATUS_COLOURS["flagged"] if kind == "flagged" else UNGRADED_COLOUR)))
        item.setToolTip(3, state.assessment.summary() if kind == "flagged" else "")
        for c in (1, 2, 3):
            item.setTextAlignment(c, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def _apply_filter(self, *_) -> None:
        for image_id, item in self._items.items():
            item.setHidden(not self._keep(image_id))

    def _on_current(self, current: QTreeWidgetItem | None, previous) -> None:
        if current is not None:
            self.currentImageChanged.emit(int(current.data(0, ID_ROLE)))

    # ------------------------------------------------------------------ navigation

    def current_id(self) -> int | None:
        item = self.tree.currentItem()
        return None if item is None else int(item.data(0, ID_ROLE))

    def select_id(self, image_id: int) -> None:
        item = self._items.get(image_id)
        if item is not None:
            item.setHidden(False)
            self.tree.setCurrentItem(item)
            self.tree.scrollToItem(item)

    def visible_ids(self) -> list[int]:
        return [i for i, item in self._items.items() if not item.isHidden()]

    def neighbour(self, delta: int) -> int | None:
        ids = self.visible_ids()
        cur = self.current_id()
        if not ids:
            return None
        if cur not in ids:
            return ids[0]
        j = ids.index(cur) + delta
        return ids[j] if 0 <= j < len(ids) else None

    def step(self, delta: int) -> bool:
        target = self.neighbour(delta)
        if target is None or target == self.current_id():
            return False
        self.select_id(target)
        return True

    def selected_ids(self) -> list[int]:
        return [int(i.data(0, ID_ROLE)) for i in self.tree.selectedItems()]

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image_id, rec in self._records.items():
            counts[rec.status] = counts.get(rec.status, 0) + 1
            if self._display.get(image_id) == "flagged":
                counts["flagged"] = counts.get("flagged", 0) + 1
        return counts

    def summary(self) -> str:
        """The status bar's count, e.g. '12 images · 3 to review · 1 doubtful · 9 verified'."""
        counts = self.status_counts()
        parts = [f"{sum(n for s, n in counts.items() if s != 'flagged')} images"]  # flagged ones are also predicted
        review = counts.get("new", 0) + counts.get("predicted", 0)
        parts += [f"{review} to review"] if review else []
        parts += [f"{counts['flagged']} doubtful"] if counts.get("flagged") else []
        parts += [f"{counts[s]} {s}" for s in ("edited", "verified") if counts.get(s)]
        parts += [f"{counts['error']} unreadable"] if counts.get("error") else []
        return " · ".join(parts)

    def record(self, image_id: int) -> ImageRecord | None:
        return self._records.get(image_id)
