"""Opening a project folder: import on first use (or finish an import cut short), Rescan, and
the failures of both as a banner naming the file, so the window never aborts and stays usable."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from hipvision.core.importer import import_folder, unfinished_import
from hipvision.core.records import ImportReport
from hipvision.core.store import Project, StoreError
from hipvision.gui.open_messages import (
    OPEN_ERRORS,
    failure_text,
    import_problems,
    is_utf8_path,
    open_failed,
    printable_path,
)


class ProjectOpenMixin:
    """MainWindow's File ▸ Open, Open demo and Rescan (it provides project, settings, show_banner,
    show_status, close_project, _show_project and reload_image_list)."""

    def choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of radiographs")
        if folder:
            self.open_project(folder)

    def open_demo(self) -> None:
        from hipvision.core.demo_project import prepare_demo_project

        try:
            self.open_project(prepare_demo_project())
        except (FileNotFoundError, OSError, StoreError) as exc:
            QMessageBox.warning(self, "Demo project", str(exc))

    def open_project(self, folder: str | Path) -> bool:
        """Open (importing the folder on first use, or finishing an import that was cut
        short) and show the first image. False on failure, with the reason in the banner; the
        previous project (or the start screen) stays then."""
        if not is_utf8_path(folder):
            # The project stores paths as UTF-8 text: every file would be refused one by one.
            self.show_banner(open_failed(printable_path(folder), "the folder's path is not valid UTF-8; rename it"))
            return False
        try:
            project = Project.open(folder)
        except OPEN_ERRORS as exc:
            self.show_banner(open_failed(folder, exc))
            return False
        try:
            report = self._import_if_needed(project)
        except OPEN_ERRORS as exc:
            project.close()  # half imported: the pending mark makes the next open finish it
            self.show_banner(open_failed(folder, exc, project.db_path))
            return False
        self.close_project()
        try:
            self._show_project(project, report)
        except OPEN_ERRORS as exc:
            self.close_project()
            self.show_banner(open_failed(folder, exc, project.db_path))
            return False
        return True

    def _import_if_needed(self, project: Project) -> ImportReport | None:
        if project.read_only:  # the vet's project as it stands: nothing can be added to it now
            return None
        pending = unfinished_import(project)
        if project.images() and pending is None:
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            labels = True if pending is None else bool(pending.get("labels", True))
            return import_folder(project, labels=labels, mapping=self.settings.side_mapping())
        finally:
            QApplication.restoreOverrideCursor()

    def rescan(self) -> None:
        if self.project is None:
            return
        try:
            report = import_folder(self.project, mapping=self.settings.side_mapping())
        except OPEN_ERRORS as exc:
            # The images recorded so far stay; the pending mark makes the next open finish it.
            self.show_banner(f"Rescan of {self.project.root} failed: {failure_text(exc, self.project.db_path)}")
            report = None
        try:
            self.reload_image_list()
        except OPEN_ERRORS as exc:
            self.show_banner(f"Cannot read {self.project.root}: {failure_text(exc, self.project.db_path)}")
            return
        if report is not None:
            self.show_status(f"Rescanned: {report.summary()}")
            problems = import_problems(report)
            if problems:  # else the banner keeps what it says (a read-only folder's note)
                self.show_banner(problems)
