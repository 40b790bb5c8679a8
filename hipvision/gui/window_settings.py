"""Where the window keeps its geometry and dock layout (QSettings).

Preferences a user edits (grade thresholds, recent projects, ...) live in the Qt-free JSON
settings of hipvision.core.settings; only Qt's opaque window-state blobs go to QSettings,
stored as an INI file beside the JSON one when HIPVISION_CONFIG_DIR is set (tests, portable
installs), else in the platform's usual place.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

INI_NAME = "window.ini"


def window_settings() -> QSettings:
    override = os.environ.get("HIPVISION_CONFIG_DIR")
    if override:
        return QSettings(str(Path(override) / INI_NAME), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "HipVision", "hipvision")


def save_window(win: QMainWindow) -> None:
    s = window_settings()
    s.setValue("main/geometry", win.saveGeometry())
    s.setValue("main/state", win.saveState())
    s.sync()


def restore_window(win: QMainWindow) -> bool:
    """True if a saved geometry was applied (else the caller picks a default size)."""
    s = window_settings()
    geometry = s.value("main/geometry")
    state = s.value("main/state")
    ok = isinstance(geometry, QByteArray) and win.restoreGeometry(geometry)
    if isinstance(state, QByteArray):
        win.restoreState(state)
    return bool(ok)
