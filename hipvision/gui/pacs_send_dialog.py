"""File ▸ Send reports to PACS…: pick the images whose SR (and, if ticked, annotated image) goes to
a PACS. Every image that can be sent (a person verified or edited it, its source is DICOM) is listed
checked; the others are listed greyed out with the reason, the same one the send would give. The
work runs on the engine (pacs.jobs.send); this widget gathers the request and shows the summary."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLineEdit, QListWidget, QListWidgetItem, QPushButton

from hipvision.gui.pacs_engine_dialog import EngineDialog, server_combo
from hipvision.pacs import jobs as pacs_jobs
from hipvision.pacs.send_reports import SendConfig


def send_with_capture(config: pacs_jobs.SendJob, *, progress=None, cancel=None):
    """Engine job: send with the annotated image drawn by Qt (so it runs in the engine's thread,
    not its child; QImage drawing needs no GUI thread)."""
    from hipvision.gui.secondary_capture import secondary_capture

    return pacs_jobs.send(config, progress=progress, cancel=cancel, capture=secondary_capture)


@dataclass(frozen=True)
class Candidate:
    """One image of the project as the picker lists it: `why_not` is '' when it can be sent."""

    path: str  # the project path: what SendConfig.images names it by (unique, unlike a file name)
    why_not: str


def candidates(project) -> list[Candidate]:
    """Every image of the project, each with why it cannot be sent ('' if it can). The checks are
    the send's own (pacs.sr), so the list never promises what the send then refuses."""
    from hipvision.pacs.sr import read_source, reviewed_annotation

    out = []
    for rec in project.images():
        try:
            reviewed_annotation(project, rec.id)
            read_source(rec)
        except ValueError as exc:
            # The reason names the image first ("path (image 3): ..."); the row shows the path already.
            why = str(exc).removeprefix(f"{rec.path} (image {rec.id}): ")
            out.append(Candidate(rec.path, why))
        else:
            out.append(Candidate(rec.path, ""))
    return out


class SendDialog(EngineDialog):
    """Send the checked images' SRs (and, if ticked, the annotated images) to a PACS."""

    def __init__(self, window):
        super().__init__(window, "Send reports to PACS")
        self.setMinimumWidth(600)  # the reasons, the reader field's hint and a long server URL stay readable
        self.server, problem = server_combo(window)
        self.capture = QCheckBox("Also send the annotated image (Secondary Capture)")
        self.observer = QLineEdit()
        self.observer.setPlaceholderText("Family^Given (default: the annotation's author)")
        self.images = QListWidget()
        self.images.setWordWrap(True)  # a reason is a sentence; the tooltip has it too
        self.candidates = candidates(window.project) if window.project is not None else []
        for c in self.candidates:
            item = QListWidgetItem(c.path if not c.why_not else f"{c.path} — {c.why_not}")
            item.setData(Qt.ItemDataRole.UserRole, c.path)
            item.setToolTip(c.why_not or "A person reviewed it and its source is DICOM: its report can go")
            if c.why_not:  # listed, so the vet sees why it is missing, but it cannot be ticked
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable))
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            self.images.addItem(item)
        self.images.itemChanged.connect(lambda _item: self._update_button())
        self.send_button = QPushButton()
        self.send_button.clicked.connect(self.send)
        form = QFormLayout(self)
        form.addRow("Server", self.server)
        form.addRow("Reader", self.observer)
        form.addRow("Images", self.images)
        form.addRow(self.capture)
        form.addRow(self.send_button)
        form.addRow(self.status)
        self.status.setText(problem)
        self._problem = problem
        self._sending = False
        self._update_button()
        self.report = None

    def checked(self) -> tuple[str, ...]:
        """The project paths of the ticked images, in list order."""
        items = (self.images.item(i) for i in range(self.images.count()))
        return tuple(item.data(Qt.ItemDataRole.UserRole) for item in items
                     if item.checkState() == Qt.CheckState.Checked and item.flags() & Qt.ItemFlag.ItemIsEnabled)

    def _update_button(self) -> None:
        n = len(self.checked())
        self.send_button.setText(f"&Send {n} report{'' if n == 1 else 's'}")
        self.send_button.setEnabled(bool(n) and not self._problem and not self._sending
                                    and self.window_.project is not None)

    def send(self) -> None:
        project, server, images = self.window_.project, self.server.currentData(), self.checked()
        if project is None or server is None or not images:
            return
        try:
            config = pacs_jobs.SendJob(str(project.root), SendConfig(
                server, images=images, secondary_capture=self.capture.isChecked(),
                observer=self.observer.text().strip() or None))
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        # The capture needs Qt to draw: only then does the job stay in this process's engine thread.
        fn = send_with_capture if self.capture.isChecked() else pacs_jobs.send
        self._sending = True
        self._update_button()
        self.submit("send", fn, config, f"Send reports to {server.label}", panel=True)
        self.status.setText(f"Sending {len(images)} report(s) to {server.label}…")

    def on_result(self, what: str, job_id: int, config, result) -> None:
        self.report = result
        self._sending = False
        self._update_button()
        lines = [result.summary()] + [f"{name}: {why}" for name, why in result.refused]
        self.status.setText("\n".join(lines))
        self.window_.show_status(f"{config.send.server.label}: {result.summary()}")

    def job_ended(self, what: str, job_id: int) -> None:
        self._sending = False
        self._update_button()
