"""The main window: image list | canvas | measurement panel, wired to the project store.

Attaching an engine (hipvision/gui/engine*.py, no ML imported here):
- `predict_requested(image_id)` is emitted when an image without landmarks is shown, and
  by Model ▸ Predict; the engine predicts off the GUI thread and stores the result with
  `Project.save_prediction` (which never overwrites a person's edit).
- then it calls the slot `on_annotation_changed(image_id)`: the list row and, for the
  shown image, the canvas and readout re-read the store.
- `set_prediction_available(bool)` enables Model ▸ Predict; `add_panel(widget, title)`
  docks the engine's own panels (jobs, models).
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoGroup
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from hipvision.annotation.state import AnnotationState, StoredEdit
from hipvision.core.image_cache import ImageCache
from hipvision.core.image_facts import image_facts
from hipvision.core.radiograph import RadiographError
from hipvision.core.records import ImportReport
from hipvision.core.settings import load_settings_or_default, save_settings
from hipvision.core.store import Project
from hipvision.gui.actions import build_actions
from hipvision.gui.canvas import Canvas
from hipvision.gui.image_list import ImageListPanel
from hipvision.gui.measurement_panel import MeasurementPanel
from hipvision.gui.open_messages import (
    OPEN_ERRORS,
    failure_text,
    import_problems,
)
from hipvision.gui.outputs import OutputsMixin
from hipvision.gui.place_actions import PlaceMixin
from hipvision.gui.place_tool import PlaceTool
from hipvision.gui.project_open import ProjectOpenMixin
from hipvision.gui.review_banner import ReviewBanner, ReviewMixin
from hipvision.gui.start_screen import StartScreen
from hipvision.gui.view_actions import CUSTOM_WINDOW, ViewMixin
from hipvision.gui.window_settings import restore_window, save_window
from hipvision.gui.workspace import Workspace

log = logging.getLogger(__name__)

UNPLACED_BANNER = "Unplaced: default positions — drag the landmarks into place, or press V to accept them"


class MainWindow(ProjectOpenMixin, OutputsMixin, ReviewMixin, PlaceMixin, ViewMixin, QMainWindow):
    predict_requested = Signal(int)
    image_shown = Signal(int)
    project_opened = Signal(object)  # Project
    # The review banner's fix: "place the hips with a click each" (the click tool answers it).
    place_with_clicks_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("HipVision")
        self.settings, settings_problem = load_settings_or_default()
        self.thresholds = self.settings.thresholds
        self.project: Project | None = None
        self.workspace: Workspace | None = None
        self.current_image_id: int | None = None
        self.remember_geometry = True
        self.close_problem: str | None = None  # set by closeEvent: what could not be saved
        self._state: AnnotationState | None = None
        self.cache = ImageCache(capacity=3)
        self.workspace_undo_group = QUndoGroup(self)  # outlives projects: the Undo actions bind to it

        self.canvas = Canvas()
        self.canvas.thresholds = self.thresholds
        self.banner = QLabel()
        self.banner_message = ""  # the banner as plain text (for the command line)
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff3cd; color: #5c4400; padding: 6px 10px;")
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.linkActivated.connect(lambda _link: self.show_banner(None))
        self.banner.hide()
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.banner)
        self.review_banner = ReviewBanner()
        self.review_banner.fixRequested.connect(self.request_place_with_clicks)
        box.addWidget(self.review_banner)
        # The start screen stands where the canvas goes until a project is open.
        self.start_screen = StartScreen()
        self.start_screen.open_folder_requested.connect(self.choose_project)
        self.start_screen.open_sample_requested.connect(self.open_demo)
        self.start_screen.open_recent_requested.connect(self.open_project)
        # Ignored: the start screen must not make a small window's saved geometry unrestorable.
        self.start_screen.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_screen)
        self.stack.addWidget(self.canvas)
        box.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.image_list = ImageListPanel()
        self.image_list.thresholds = self.thresholds
        self.panel = MeasurementPanel()
        self.panel.set_thresholds(self.thresholds)
        docks = [self.add_panel(self.image_list, "Images", Qt.DockWidgetArea.LeftDockWidgetArea),
                 self.add_panel(self.panel, "Measurements", Qt.DockWidgetArea.RightDockWidgetArea)]

        self.actions = build_actions(self)
        self.place_tool = PlaceTool(self.canvas)
        self.place_tool.message.connect(self.show_status)
        self.place_tool.activeChanged.connect(self.actions["place"].setChecked)
        # Fixed toolbar labels: the undo actions rename themselves after each command ("Undo
        # Move right femoral head centre"), which made the whole toolbar jump; the menu keeps it.
        self.actions["undo"].setIconText("Undo")
        self.actions["redo"].setIconText("Redo")
        self.wl_combo.addItem(CUSTOM_WINDOW)  # shown after a right-drag: no preset describes it
        self.set_prediction_available(False)
        self._build_status_bar()
        self.image_list.currentImageChanged.connect(self.show_image)
        self.canvas.previewChanged.connect(self.panel.show_landmarks)
        self.canvas.editFinished.connect(self._on_edit_finished)
        self.canvas.windowChanged.connect(lambda c, w: self.window_text.setText(f"W {w:.0f}  L {c:.0f}"))
        self.canvas.vb.windowDragged.connect(lambda *_: self.wl_combo.setCurrentText(CUSTOM_WINDOW))
        self.canvas.cursorMoved.connect(self.cursor_text.setText)
        self.canvas.message.connect(self.show_status)
        self.canvas.circleModeChanged.connect(self.actions["circle"].setChecked)
        self._update_recent_menu()
        self._update_actions()
        if not restore_window(self):
            self.resize(1440, 900)
            self.resizeDocks(docks, [330, 380], Qt.Orientation.Horizontal)
        if settings_problem:
            self.show_banner(settings_problem)

    def _build_status_bar(self) -> None:
        self.status_text = QLabel()
        self.cursor_text = QLabel()
        self.window_text = QLabel()
        self.summary_text = QLabel()
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.summary_text)
        self.statusBar().addPermanentWidget(self.cursor_text)
        self.statusBar().addPermanentWidget(self.window_text)

    # ------------------------------------------------------------------ panels and messages

    def add_panel(self, widget: QWidget, title: str, area=Qt.DockWidgetArea.RightDockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def show_status(self, text: str) -> None:
        self.status_text.setText(text)

    def show_banner(self, text: str | None) -> None:
        # Every banner can be dismissed: a job's failure must not stay on screen for good.
        self.banner_message = text or ""
        self.banner.setText(f"{escape(text)} &nbsp;<a href='dismiss' style='color:#5c4400'>Dismiss</a>" if text else "")
        self.banner.setVisible(bool(text))

    def set_prediction_available(self, available: bool) -> None:
        for name in ("predict", "place", "refine"):  # all three need the engine's model
            self.actions[name].setEnabled(bool(available))

    # ------------------------------------------------------------------ project

    def _show_project(self, project: Project, report: ImportReport | None) -> None:
        self.project = project
        self.stack.setCurrentWidget(self.canvas)
        self.workspace = Workspace(project, self.workspace_undo_group, self)
        self.workspace.annotationChanged.connect(self.on_annotation_changed)
        self.workspace.writeFailed.connect(lambda _i, msg: self.show_banner(msg))
        problems = None if report is None else import_problems(report)
        if report is not None:
            self.show_status(f"Imported {project.root.name}: {report.summary()}")
        notes = [project.location.notice, problems]  # read-only, or kept in the user data dir
        self.show_banner(". ".join(n for n in notes if n) or None)
        self.setWindowTitle(f"HipVision — {project.root.name}")
        self._remember_recent(project.root)
        self.reload_image_list()
        images = project.images()
        last = project.get_setting("gui.last_image")
        first = last if any(r.id == last for r in images) else (images[0].id if images else None)
        if first is not None:
            self.image_list.select_id(first)
            if self.current_image_id != first:
                self.show_image(first)
        else:
            self.canvas.set_image(None, f"No radiographs in {project.root}")
        self._update_actions()
        self.project_opened.emit(project)

    def close_project(self) -> str | None:
        """Close the project, back to the start screen. Returns why the project's state (the
        image shown) could not be saved, or None; closing goes on regardless."""
        if self.project is None:
            return None
        problem = None
        if self.current_image_id is not None:
            try:
                self.project.set_setting("gui.last_image", self.current_image_id)
            except OPEN_ERRORS as exc:
                problem = f"Could not save the image shown: {failure_text(exc, self.project.db_path)}"
                log.warning("%s", problem)  # the window may be going: the log says it
        for stack in list(self.workspace_undo_group.stacks()):
            self.workspace_undo_group.removeStack(stack)
            stack.deleteLater()
        if self.workspace is not None:
            self.workspace.deleteLater()
        self.cache.clear()
        self.project.close()
        self.project = self.workspace = self._state = None
        self.current_image_id = None
        self.stack.setCurrentWidget(self.start_screen)
        self.setWindowTitle("HipVision")
        self._update_actions()
        return problem

    def reload_image_list(self) -> None:
        """Re-read the project's images into the list (after an import or a generation job)."""
        self.image_list.set_rows([self.workspace.state(r.id) for r in self.project.images()])
        if self.current_image_id is not None:
            self.image_list.select_id(self.current_image_id)
        self._update_summary()

    def _update_summary(self) -> None:
        self.summary_text.setText(self.image_list.summary())

    def _remember_recent(self, folder: Path) -> None:
        self.settings = self.settings.with_recent(folder)
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.show_status(f"Could not save settings: {exc}")
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.start_screen.set_recent(self.settings.existing_recent())
        self.recent_menu.clear()
        for folder in self.settings.existing_recent():
            a = self.recent_menu.addAction(str(folder))
            a.triggered.connect(lambda checked=False, f=folder: self.open_project(f))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    # ------------------------------------------------------------------ showing an image

    def show_image(self, image_id: int) -> None:
        if self.project is None:
            return
        if self.canvas.circle_mode:
            self.actions["circle"].setChecked(False)
        self.current_image_id = image_id
        self.show_status("")  # a message about the previous image must not seem to be about this one
        self.wl_combo.setCurrentIndex(0)  # each image starts from its default window
        self.workspace.activate(image_id)
        state = self.workspace.state(image_id)
        rec = state.image
        if rec.error:
            self.canvas.set_image(None, f"Cannot read {rec.path}:\n{rec.error}")
            state = None
        else:
            try:
                self.canvas.set_image(self.cache.get(rec.abs_path))
            except RadiographError as exc:
                self.canvas.set_image(None, f"Cannot read {rec.path}:\n{exc.reason}")
                state = None
        self.canvas.select(None)
        self._apply_state(state)
        self._prefetch_neighbours()
        self.image_shown.emit(image_id)
        if state is not None and not state.placed and rec.status == "new":
            self.predict_requested.emit(image_id)

    def _prefetch_neighbours(self) -> None:
        paths = []
        for delta in (1, -1):
            nid = self.image_list.neighbour(delta)
            rec = self.image_list.record(nid) if nid is not None else None
            if rec is not None and not rec.error and nid != self.current_image_id:
                paths.append(rec.abs_path)
        self.cache.prefetch(paths)

    def _apply_state(self, state: AnnotationState | None) -> None:
        self._state = state
        if state is None or self.canvas.loaded is None:
            self.canvas.set_annotation(None, self.canvas.mapping, "user")
            self.canvas.set_banner(None)
            self.review_banner.show_concerns(None)
            self.panel.set_context(mapping=self.canvas.mapping, spacing=None, kind=None)
            self.panel.show_landmarks(None)
        else:
            rec = state.image
            self.canvas.set_annotation(state.shown, rec.mapping, state.kind)
            self.canvas.set_banner(UNPLACED_BANNER if state.kind == "unplaced" else None)
            self.review_banner.show_concerns(state.assessment.summary() if state.kind == "flagged" else None)
            meta = self.canvas.loaded.radiograph.metadata
            self.panel.set_context(mapping=rec.mapping, spacing=rec.spacing, kind=state.kind, author=state.author,
                                   note=state.confidence_note, facts=image_facts(rec, meta))
            self.panel.show_landmarks(state.shown)
        if state is not None:
            self.image_list.update_row(state)
        self._update_actions()

    def on_annotation_changed(self, image_id: int) -> None:
        """Slot: the store changed for this image (an edit, an undo, or the engine)."""
        if self.project is None:
            return
        state = self.workspace.state(image_id)
        self.image_list.update_row(state)
        self._update_summary()
        if image_id == self.current_image_id and not self.canvas.dragging:
            self._apply_state(state)

    def _update_actions(self) -> None:
        have_image = self._state is not None
        for name in ("verify", "swap", "delete", "circle", "render", "report", "fit", "hips", "zoom_in", "zoom_out",
                     "actual", "auto_window", "invert"):
            self.actions[name].setEnabled(have_image)
        self.actions["reset"].setEnabled(have_image and self._state.has_prediction)
        for name in ("rescan", "export_csv", "export_coco", "report_selected"):
            self.actions[name].setEnabled(self.project is not None)

    # ------------------------------------------------------------------ edits (each one undo command)

    def _push(self, landmarks, status: str, text: str, mapping=None) -> bool:
        if self._state is None:
            return False
        rec = self._state.image
        return self.workspace.push(rec.id, StoredEdit(landmarks, status, mapping or rec.mapping), text)

    def _on_edit_finished(self, landmarks, text: str) -> None:
        if not self._push(landmarks, "edited", text):
            self.on_annotation_changed(self.current_image_id)

    def verify(self) -> None:
        if self._state is not None and self.canvas.landmarks is not None:
            if self._push(self.canvas.landmarks, "verified", "Verify"):
                self.show_status(f"Verified {self._state.image.name}")

    def swap_sides(self) -> None:
        if self._state is None:
            return
        s = self._state
        lm = None if s.landmarks is None else s.landmarks.swapped()
        self._push(lm, "edited" if lm is not None else s.image.status, "Swap left/right", s.image.mapping.swapped())

    def delete_annotation(self) -> None:
        if self._state is not None and self._state.landmarks is not None:
            self._push(None, "new", "Delete landmarks")

    def reset_to_prediction(self) -> None:
        if self._state is None:
            return
        ann = self.project.latest_model_annotation(self._state.image.id)
        if ann is not None and ann.landmarks is not None:
            rec = self._state.image
            # The model's revision comes back under the model's name and with its confidence.
            self.workspace.push(rec.id, StoredEdit(ann.landmarks, "predicted", rec.mapping, ann.author,
                                                   ann.confidence), "Reset to prediction")

    def toggle_circle_mode(self, on: bool) -> None:
        if on and self._state is not None:
            self.canvas.start_circle_mode()
        else:
            self.canvas.cancel_circle_mode()

    def next_image(self) -> None:
        self.image_list.step(1)

    def previous_image(self) -> None:
        self.image_list.step(-1)

    def open_from_pacs(self):
        from hipvision.gui.pacs_dialog import PacsDialog, open_pacs_dialog

        return open_pacs_dialog(self, PacsDialog)

    def send_to_pacs(self):
        from hipvision.gui.pacs_dialog import SendDialog, open_pacs_dialog

        if self.project is None:
            self.show_status("Open a project first: its reviewed images are what is sent")
            return None
        return open_pacs_dialog(self, SendDialog)

    def show_preferences(self) -> None:
        from hipvision.gui.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.apply_settings(dialog.settings)

    def apply_settings(self, settings) -> None:
        """Save and apply new preferences (thresholds redraw at once)."""
        self.settings = settings
        try:
            save_settings(settings)
        except OSError as exc:
            self.show_banner(f"Could not save the preferences: {exc}")
        self.thresholds = settings.thresholds
        self.canvas.thresholds = self.thresholds
        self.image_list.thresholds = self.thresholds
        self.panel.set_thresholds(self.thresholds)
        if self.project is not None:
            self.reload_image_list()
            if self.current_image_id is not None:
                self.on_annotation_changed(self.current_image_id)

    def closeEvent(self, ev) -> None:
        # Never raises: an exception here leaves Qt half-closed (and a scripted screenshot
        # waiting forever). What could not be saved is logged once and kept for the caller.
        if self.remember_geometry:
            save_window(self)
        self.close_problem = self.close_project()
        self.cache.close()
        super().closeEvent(ev)
