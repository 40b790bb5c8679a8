"""Preferences: grade thresholds, side convention, compute device, Stable Diffusion folder,
how retraining mixes in synthetic images, and the PACS servers (each with its own user).

Edits an AppSettings (core, Qt-free) and returns the new one; validation errors come from
AppSettings/GradeThresholds themselves and are shown instead of being saved.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from hipvision.core.grading import GradeThresholds
from hipvision.core.settings import DEVICES, AppSettings, SettingsError
from hipvision.gui.pacs_servers_editor import PacsServersEditor
from hipvision.pacs.server import DEFAULT_CALLING_AE, PacsError, PacsServer, parse_server, store_secret

SIDE_CHOICES = (("Patient's right on the image's left (VD convention)", True),
                ("Patient's right on the image's right", False))


class PreferencesDialog(QDialog):
    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.normal = QDoubleSpinBox()
        self.borderline = QDoubleSpinBox()
        for box, value in ((self.normal, settings.thresholds.normal_min),
                           (self.borderline, settings.thresholds.borderline_min)):
            box.setRange(1.0, 179.0)
            box.setDecimals(1)
            box.setSuffix(" °")
            box.setValue(value)
        self.side = QComboBox()
        for text, value in SIDE_CHOICES:
            self.side.addItem(text, value)
        self.side.setCurrentIndex(0 if settings.right_on_image_left else 1)
        self.device = QComboBox()
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(settings.device)
        self.sd_dir = QLineEdit("" if settings.sd_base_dir is None else str(settings.sd_base_dir))
        # Short enough to show whole in the field; the tooltip says the rest.
        self.sd_dir.setPlaceholderText("diffusers folder (DreamBooth)")
        self.sd_dir.setToolTip("A local Stable Diffusion folder in diffusers format (with model_index.json), "
                               "the base model DreamBooth fine-tunes")
        self.sd_dir.setMinimumWidth(self.sd_dir.fontMetrics().horizontalAdvance(self.sd_dir.placeholderText()) + 24)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        sd_row = QWidget()
        row = QHBoxLayout(sd_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.sd_dir, 1)
        row.addWidget(browse)
        # Synthetic images in retraining: -1 (shown as "by their number") is share None.
        self.syn_share = QSpinBox()
        self.syn_share.setRange(-1, 100)
        self.syn_share.setSuffix(" % of each epoch")
        self.syn_share.setSpecialValueText("in proportion to their number")
        self.syn_share.setValue(-1 if settings.synthetic_share is None else round(settings.synthetic_share * 100))
        self.syn_until = QSpinBox()
        self.syn_until.setRange(1, 100)
        self.syn_until.setSuffix(" % of the epochs, then real images only")
        self.syn_until.setValue(round(settings.synthetic_until * 100))
        # PACS: one row per server, each with its own user; passwords go to the OS keyring only.
        self.pacs = PacsServersEditor([(t, settings.pacs_username_for(t)) for t in settings.pacs_servers])
        self.pacs_ae = QLineEdit(settings.pacs_calling_ae)
        # A PACS without C-GET sends by C-MOVE to our AE title at this port (registered on the PACS).
        self.pacs_move_port = QSpinBox()
        self.pacs_move_port.setRange(1, 65535)
        self.pacs_move_port.setValue(settings.pacs_move_port)
        self.error = QLabel()
        self.error.setStyleSheet("color: #e57373")
        self.error.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Normal from NA ≥", self.normal)
        form.addRow("Borderline from NA ≥", self.borderline)
        form.addRow("Side convention for new images", self.side)
        form.addRow("Compute device", self.device)
        form.addRow("Stable Diffusion base folder", sd_row)
        form.addRow("Retraining: synthetic images make up", self.syn_share)
        form.addRow("Retraining: use synthetic images for", self.syn_until)
        form.addRow(QLabel("PACS servers: a DICOMweb URL or AET@host:port, each with its user; "
                           "passwords go to the OS keyring only"))
        form.addRow(self.pacs)
        form.addRow("PACS: our AE title", self.pacs_ae)
        form.addRow("PACS: C-MOVE port (images arrive here)", self.pacs_move_port)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Stable Diffusion base folder (diffusers format)")
        if folder:
            self.sd_dir.setText(folder)

    def edited_settings(self) -> AppSettings:
        """The settings as edited; raises ValueError (SettingsError) naming the bad field."""
        thresholds = GradeThresholds(normal_min=self.normal.value(), borderline_min=self.borderline.value())
        sd = self.sd_dir.text().strip()
        rows = self.pacs.entries()
        return replace(self.settings, thresholds=thresholds, right_on_image_left=bool(self.side.currentData()),
                       device=self.device.currentText(), sd_base_dir=Path(sd) if sd else None,
                       synthetic_share=None if self.syn_share.value() < 0 else self.syn_share.value() / 100,
                       synthetic_until=self.syn_until.value() / 100,
                       pacs_servers=tuple(server for server, _user, _pw in rows),
                       pacs_calling_ae=self.pacs_ae.text().strip() or DEFAULT_CALLING_AE,
                       pacs_move_port=self.pacs_move_port.value(),
                       # Every line now names its user: the one-user-for-all of older files is spent.
                       pacs_users=tuple((server, user) for server, user, _pw in rows), pacs_username="")

    def accept(self) -> None:
        try:
            settings = self.edited_settings()
            servers = pacs_servers(settings)  # a typo in an address is shown now, not at the first search
            for server, (_text, _user, password) in zip(servers, self.pacs.entries(), strict=True):
                if password:
                    store_secret(server, password)  # keyed by (user, server): each server its own
        except (SettingsError, ValueError, PacsError) as exc:
            self.error.setText(str(exc))
            return
        self.settings = settings
        self.pacs.clear_passwords()  # the secrets are in the keyring now; they do not stay in the widgets
        super().accept()


def pacs_servers(settings: AppSettings) -> list[PacsServer]:
    """The configured PACS servers; raises ValueError naming the line that is not a server address."""
    return [parse_server(text, calling_ae=settings.pacs_calling_ae, username=settings.pacs_username_for(text))
            for text in settings.pacs_servers]
