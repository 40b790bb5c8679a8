"""Models panel: every model of the project with its metrics; activate, revert, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hipvision.core.records import ModelRecord
from hipvision.core.store import Project, StoreError

# Two-line cells, so every column fits the dock beside the readout without a scroll bar:
# the backbone and creation time under the name, the image count under the score.
COLUMNS = ("", "Model", "Validation\nNA MAE", "Training data")
SCORE_TIP = ("Mean NA error on the project's validation images, measured as the app predicts when the model "
             "was added; (CV): cross-validated on the corrected images, as the project had fewer than five "
             "validation images (the bundled model: on its phantom validation images)")


def describe_score(model: ModelRecord) -> str:
    """'1.23° · 3 images': the validation NA MAE and the images it was measured on — as the
    app predicts, when the model was added; else during its training (the bundled model: phantoms)."""
    m = model.metrics
    for mae_key, n_key in (("val_na_mae_at_registration", "val_images_at_registration"),
                           ("val_na_mae", "val_images"), ("na_mae", "images")):
        mae, n = m.get(mae_key), m.get(n_key)
        if isinstance(mae, (int, float)):
            if not isinstance(n, int):
                return f"{mae:.2f}°"
            what = "phantoms" if model.kind == "default" else "image" if n == 1 else "images"
            if m.get("comparison_basis") == "cross-validation" and mae_key == "val_na_mae_at_registration":
                what += " (CV)"  # cross-validated on the corrected images: too few validation images
            return f"{mae:.2f}°\n{n} {what}"
    return "—"


def describe_data(model: ModelRecord) -> str:
    """'17 train (+40 synthetic) · 4 val' from the checkpoint's data summary."""
    if model.kind == "default":
        return "synthetic phantoms"
    by_split = model.data_summary.get("by_split") or {}
    if not by_split:
        return "—"
    train = by_split.get("train", {})
    text = f"{train.get('real', 0)} train"
    if train.get("synthetic"):
        text += f" (+{train['synthetic']} synthetic)"
    val = sum(by_split.get("val", {}).values())
    return text + (f"\n{val} val" if val else "")


class ModelsPanel(QWidget):
    active_changed = Signal(int)  # model id now active

    def __init__(self, project: Project, parent=None):
        super().__init__(parent)
        self.project = project
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeaderItem(2).setToolTip(SCORE_TIP)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.activate_button = QPushButton("Activate")
        self.revert_button = QPushButton("Revert to previous")
        self.delete_button = QPushButton("Delete")
        self.activate_button.clicked.connect(self.activate_selected)
        self.revert_button.clicked.connect(self.revert)
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        for b in (self.activate_button, self.revert_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    def set_project(self, project: Project) -> None:
        self.project = project
        self.refresh()

    def models(self) -> list[ModelRecord]:
        return self.project.models()

    def refresh(self) -> None:
        models = self.models()
        self.table.setRowCount(len(models))
        for row, m in enumerate(models):
            name = m.name + ("  (default)" if m.kind == "default" else "")
            cells = ("●" if m.active else "", f"{name}\n{m.backbone} · {m.created_at[:16].replace('T', ' ')}",
                     describe_score(m), describe_data(m))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(self._tooltip(m))
                item.setData(Qt.UserRole, m.id)
                if m.active:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self._fit_width()
        self._update_buttons()

    def _fit_width(self) -> None:
        # The dock is at least as wide as the table's columns: none is cut off at its edge.
        t = self.table
        need = t.horizontalHeader().length() + 2 * t.frameWidth() + t.verticalScrollBar().sizeHint().width()
        t.setMinimumWidth(need)

    @staticmethod
    def _tooltip(m: ModelRecord) -> str:
        lines = [f"{m.name} ({m.kind}, {m.backbone})", f"file: {m.abs_file}"]
        if m.kind == "default":
            lines.append("Trained on synthetic phantoms: a first guess until you retrain on your images.")
        lines += [f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in sorted(m.metrics.items())]
        return "\n".join(lines)

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.UserRole) if items else None

    def _update_buttons(self) -> None:
        sel = self.selected_id()
        active = self.project.active_model()
        self.activate_button.setEnabled(sel is not None and (active is None or sel != active.id))
        self.delete_button.setEnabled(sel is not None and (active is None or sel != active.id))
        self.revert_button.setEnabled(self._previous_id() is not None)

    def _previous_id(self) -> int | None:
        """The newest model older than the active one: what 'revert' goes back to."""
        active = self.project.active_model()
        if active is None:
            return None
        older = [m.id for m in self.models() if m.id < active.id]
        return older[-1] if older else None

    def activate(self, model_id: int) -> None:
        self.project.set_active_model(model_id)
        self.refresh()
        self.active_changed.emit(model_id)

    def activate_selected(self) -> None:
        if (sel := self.selected_id()) is not None:
            self.activate(sel)

    def revert(self) -> None:
        if (prev := self._previous_id()) is not None:
            self.activate(prev)

    def delete_selected(self, *, confirm: bool = True) -> None:
        sel = self.selected_id()
        if sel is None:
            return
        if confirm and QMessageBox.question(self, "Delete model", "Delete this model and its file?") != QMessageBox.Yes:
            return
        try:
            self.project.delete_model(sel)
        except StoreError as exc:
            QMessageBox.warning(self, "Delete model", str(exc))
        self.refresh()
