"""Preferences ▸ PACS servers: one row per server with its own user name and a password field.

The password is write-only: the field starts empty ("unchanged") and what is typed goes to the OS
keyring when Preferences are accepted, never into the settings file; an empty field keeps the
secret the keyring already holds for that (user, server)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Server", "User name", "Password or token")
SERVER, USER, PASSWORD = range(3)
SERVER_HINT = "A DICOMweb URL (https://host:port/dicom-web) or AET@host:port (DIMSE)"


class PacsServersEditor(QWidget):
    def __init__(self, rows: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeaderItem(SERVER).setToolTip(SERVER_HINT)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # host and port, and the path's end, stay
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(SERVER, QHeaderView.ResizeMode.Stretch)
        em = self.fontMetrics().horizontalAdvance("M")
        for column, width in ((USER, 9 * em), (PASSWORD, 12 * em)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)
        self.table.setMinimumWidth(46 * em)  # a typical https://host:port/dicom-web whole
        self.table.setFixedHeight(self.table.fontMetrics().lineSpacing() * 7 + 16)
        self.add_button = QPushButton("Add server")
        self.add_button.clicked.connect(lambda: self._new_row())
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        for server, user in rows:
            self.add_row(server, user)

    def add_row(self, server: str = "", user: str = "", password: str = "") -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        item = QTableWidgetItem(server)
        item.setToolTip(server or SERVER_HINT)
        self.table.setItem(r, SERVER, item)
        item = QTableWidgetItem(user)
        item.setToolTip("Empty: no user (the password field then holds a bearer token, if any)")
        self.table.setItem(r, USER, item)
        field = QLineEdit(password)
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setPlaceholderText("unchanged")
        field.setToolTip("Kept in the OS keyring, never in the settings file; leave empty to keep the stored one")
        field.setFrame(False)
        self.table.setCellWidget(r, PASSWORD, field)
        return r

    def _new_row(self) -> None:
        r = self.add_row()
        self.table.setCurrentCell(r, SERVER)
        self.table.editItem(self.table.item(r, SERVER))

    def remove_selected(self) -> None:
        for r in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(r)

    def password_field(self, row: int) -> QLineEdit:
        return self.table.cellWidget(row, PASSWORD)

    def entries(self) -> list[tuple[str, str, str]]:
        """(server, user, password) per filled row, in order; raises ValueError naming a row that
        has a user or password but no server (the secret would have nowhere to go)."""
        out = []
        for r in range(self.table.rowCount()):
            server = (self.table.item(r, SERVER).text() if self.table.item(r, SERVER) else "").strip()
            user = (self.table.item(r, USER).text() if self.table.item(r, USER) else "").strip()
            password = self.password_field(r).text()
            if not server:
                if user or password:
                    raise ValueError(f"PACS servers, row {r + 1}: a user name or password needs a server")
                continue
            out.append((server, user, password))
        return out

    def clear_passwords(self) -> None:
        for r in range(self.table.rowCount()):
            self.password_field(r).clear()
