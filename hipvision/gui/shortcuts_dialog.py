"""The keyboard shortcut sheet (F1), generated from the window's own actions.

Read from the live QActions — including those the engine adds (Retrain, Ctrl+T) and every
key of an action with several (Redo: Ctrl+Shift+Z and Ctrl+Y) — so it cannot drift from what
the keys actually do.
"""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

from hipvision.gui.actions import EXTRA_KEYS, shortcut_rows

# The undo actions rename themselves after the command ("Undo Move rim"); the sheet names the key.
FIXED_TEXT = {"undo": "Undo", "redo": "Redo"}


def window_shortcut_rows(actions: dict) -> list[tuple[str, str]]:
    rows, seen = [], set()
    for name, action in actions.items():
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        keys = [k for k in dict.fromkeys(keys) if k]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        rows.append((" / ".join(keys), FIXED_TEXT.get(name, action.text().replace("&", "").rstrip("…"))))
    return rows + list(EXTRA_KEYS)


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        actions = getattr(parent, "actions", None)
        rows = window_shortcut_rows(actions) if isinstance(actions, dict) else shortcut_rows()
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (keys, text) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(text))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]
