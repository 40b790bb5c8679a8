"""The start screen shown while no project is open: Open folder, recent projects, sample."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

import hipvision


class StartScreen(QWidget):
    open_folder_requested = Signal()
    open_sample_requested = Signal()
    open_recent_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("start_screen")
        logo = QLabel()
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        try:
            from hipvision.core.resources import icons_dir

            pix = QPixmap(str(icons_dir() / "hipvision-128.png"))
            if not pix.isNull():
                logo.setPixmap(pix)
        except FileNotFoundError:
            pass  # an install without icons still starts
        title = QLabel(f"<h1>HipVision</h1><p>Norberg angle measurement for canine VD hip radiographs"
                       f"<br>version {hipvision.__version__}</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton("Open folder of radiographs…")
        self.sample_button = QPushButton("Open sample project")
        self.sample_button.setToolTip("A writable copy of 12 bundled phantom radiographs, to try the app")
        for b in (self.open_button, self.sample_button):
            b.setMinimumHeight(36)
            b.setMinimumWidth(180)
        self.open_button.clicked.connect(self.open_folder_requested)
        self.sample_button.clicked.connect(self.open_sample_requested)
        self.recent_title = QLabel("<b>Recent projects</b>")
        self.recent = QListWidget()
        self.recent.setMaximumWidth(520)
        self.recent.setMaximumHeight(180)
        def open_item(item):
            self.open_recent_requested.emit(item.data(Qt.ItemDataRole.UserRole))

        self.recent.itemActivated.connect(open_item)
        self.recent.itemClicked.connect(open_item)
        note = QLabel("Grade hints support, and never replace, the veterinarian's reading.")
        note.setStyleSheet("color: #8a8a8a")
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        for w in (logo, title, self.open_button, self.sample_button, self.recent_title, self.recent, note):
            lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(3)

    def set_recent(self, folders: list[Path]) -> None:
        self.recent.clear()
        for f in folders:
            item = QListWidgetItem(f"{f.name}    —    {f.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(f))
            item.setToolTip(str(f))
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(folders))
        self.recent.setVisible(bool(folders))
