"""What the PACS dialogs share: the configured servers as a combo box, and a non-modal dialog that
submits engine jobs and hears of its own jobs' ends (each failure said once, in the dialog)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QLabel

from hipvision.gui.preferences_dialog import pacs_servers


def server_combo(window) -> tuple[QComboBox, str]:
    """The configured servers as a combo box, and why there are none usable ('' when fine)."""
    combo = QComboBox()
    try:
        servers = pacs_servers(window.settings)
    except ValueError as exc:
        return combo, f"Preferences: {exc}"
    for server in servers:
        combo.addItem(server.label, server)
    return combo, "" if servers else "No PACS server yet: add one in Edit ▸ Preferences."


class EngineDialog(QDialog):
    """A dialog that submits engine jobs and hears of its own jobs' ends."""

    def __init__(self, window, title: str):
        super().__init__(window)
        self.setWindowTitle(title)
        self.window_ = window
        self.bridge = window.engine_bridge
        self.engine = self.bridge.engine
        self.jobs_panel = self.bridge.jobs_panel
        self.status = QLabel()
        self.status.setWordWrap(True)
        self._mine: dict[int, str] = {}  # job id -> what it is ("search", "retrieve", "send")
        self.engine.finished.connect(self._finished)
        self.engine.failed.connect(self._failed)
        self.engine.cancelled.connect(self._cancelled)

    def submit(self, what: str, fn, config, title: str, *, panel: bool, hooks: tuple[str, ...] = ()):
        job = self.engine.submit(f"pacs_{what}", fn, config, title=title, hooks=hooks)
        self._mine[job.id] = what
        # While this dialog is open it says why its job failed; the window's banner would say it again.
        if self.isVisible():
            self.bridge.failures_shown_elsewhere.add(job.id)
        if panel:  # long work: progress and cancel in the jobs panel, as for a retrain
            self.jobs_panel.add_job(job)
            self.bridge.jobs_dock.raise_()
        return job

    def hideEvent(self, event) -> None:
        # Closed while its jobs run: their failures go to the window's banner again, or nobody sees them.
        self.bridge.failures_shown_elsewhere.difference_update(self._mine)
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        self.bridge.failures_shown_elsewhere.update(self._mine)
        super().showEvent(event)

    def _finished(self, job_id: int, result) -> None:
        what = self._mine.pop(job_id, None)
        self.bridge.failures_shown_elsewhere.discard(job_id)
        if what is not None:
            self.on_result(what, job_id, self.engine.jobs[job_id].config, result)

    def _failed(self, job_id: int, message: str, _tb: str) -> None:
        what = self._mine.pop(job_id, None)
        if what is not None:
            self.status.setText(f"{what.capitalize()} failed: {message}")
            self.job_ended(what, job_id)

    def _cancelled(self, job_id: int) -> None:
        what = self._mine.pop(job_id, None)
        self.bridge.failures_shown_elsewhere.discard(job_id)
        if what is not None:
            self.status.setText(f"{what.capitalize()} cancelled")
            self.job_ended(what, job_id)

    def on_result(self, what: str, job_id: int, config, result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def job_ended(self, what: str, job_id: int) -> None:
        pass


def open_pacs_dialog(window, dialog_cls) -> QDialog | None:
    """Show one of these dialogs (non-modal: its jobs run while the vet reads images)."""
    if getattr(window, "engine_bridge", None) is None:
        window.show_status("The PACS needs the background engine, which is off in this window")
        return None
    dialog = dialog_cls(window)
    dialog.show()
    return dialog
