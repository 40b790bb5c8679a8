"""The window's View menu and Help slots: zoom, invert, window/level presets, shortcuts, about.

Mixed into MainWindow; the canvas does the work, these only route the actions to it."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

import hipvision
from hipvision.core.window_level import preset_window

CUSTOM_WINDOW = "Custom (dragged)"  # the W/L box after a right-drag: no preset describes it


class ViewMixin:
    """Needs canvas and wl_combo (MainWindow)."""

    def fit_view(self) -> None:
        self.canvas.fit_view()

    def zoom_hips(self) -> None:
        self.canvas.zoom_to_hips()

    def zoom_in(self) -> None:
        self.canvas.zoom(1.25)

    def zoom_out(self) -> None:
        self.canvas.zoom(0.8)

    def zoom_actual(self) -> None:
        self.canvas.zoom_actual_pixels()

    def toggle_invert(self, on: bool) -> None:
        self.canvas.set_inverted(on)

    def default_window(self) -> None:
        self.apply_window_preset(self.wl_combo.itemText(0))

    def apply_window_preset(self, name: str) -> None:
        loaded = self.canvas.loaded
        if loaded is not None and name != CUSTOM_WINDOW:
            self.canvas.set_window(*preset_window(name, loaded.pyramid.levels[-1], loaded.window))
            self.wl_combo.setCurrentText(name)

    def show_shortcuts(self) -> None:
        from hipvision.gui.shortcuts_dialog import ShortcutsDialog

        ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        QMessageBox.about(self, "About HipVision",
                          f"HipVision {hipvision.__version__}\nNorberg angle measurement for canine VD hip "
                          "radiographs. Grade hints support, and never replace, the veterinarian's reading.")
