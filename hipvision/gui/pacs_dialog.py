"""File ▸ Open from PACS… and File ▸ Send reports to PACS…: the query/retrieve dialog and the send
dialog. The work runs on the engine (pacs.jobs); these widgets only gather the request, list the
studies found and hand the result back to the window (open the retrieved folder, show the summary)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hipvision.gui.preferences_dialog import pacs_servers
from hipvision.pacs import jobs as pacs_jobs
from hipvision.pacs.query import StudyQuery, StudyRecord
from hipvision.pacs.retrieve import RetrieveConfig
from hipvision.pacs.send_reports import SendConfig

MODALITIES = (("CR or DX", ("CR", "DX")), ("CR", ("CR",)), ("DX", ("DX",)), ("any", ()))
COLUMNS = ("Patient", "Patient ID", "Date", "Accession", "Modalities", "Images", "Description")


def send_with_capture(config: pacs_jobs.SendJob, *, progress=None, cancel=None):
    """Engine job: send with the annotated image drawn by Qt (so it runs in the engine's thread,
    not its child; QImage drawing needs no GUI thread)."""
    from hipvision.gui.secondary_capture import secondary_capture

    return pacs_jobs.send(config, progress=progress, cancel=cancel, capture=secondary_capture)


def _server_combo(window) -> tuple[QComboBox, str]:
    """The configured servers as a combo box, and why there are none usable ('' when fine)."""
    combo = QComboBox()
    try:
        servers = pacs_servers(window.settings)
    except ValueError as exc:
        return combo, f"Preferences: {exc}"
    for server in servers:
        combo.addItem(server.label, server)
    return combo, "" if servers else "No PACS server yet: add one in Edit ▸ Preferences."


class _EngineDialog(QDialog):
    """A dialog that submits engine jobs and hears of its own jobs' ends."""

    def __init__(self, window, title: str):
        super().__init__(window)
        self.setWindowTitle(title)
        self.window_ = window
        self.engine = window.engine_bridge.engine
        self.jobs_panel = window.engine_bridge.jobs_panel
        self.status = QLabel()
        self.status.setWordWrap(True)
        self._mine: dict[int, str] = {}  # job id -> what it is ("search", "retrieve", "send")
        self.engine.finished.connect(self._finished)
        self.engine.failed.connect(self._failed)
        self.engine.cancelled.connect(self._cancelled)

    def submit(self, what: str, fn, config, title: str, *, panel: bool):
        job = self.engine.submit(f"pacs_{what}", fn, config, title=title)
        self._mine[job.id] = what
        if panel:  # long work: progress and cancel in the jobs panel, as for a retrain
            self.jobs_panel.add_job(job)
            self.window_.engine_bridge.jobs_dock.raise_()
        return job

    def _finished(self, job_id: int, result) -> None:
        what = self._mine.pop(job_id, None)
        if what is not None:
            self.on_result(what, self.engine.jobs[job_id].config, result)

    def _failed(self, job_id: int, message: str, _tb: str) -> None:
        what = self._mine.pop(job_id, None)
        if what is not None:
            self.status.setText(f"{what.capitalize()} failed: {message}")
            self.job_ended(what)

    def _cancelled(self, job_id: int) -> None:
        what = self._mine.pop(job_id, None)
        if what is not None:
            self.status.setText(f"{what.capitalize()} cancelled")
            self.job_ended(what)

    def on_result(self, what: str, config, result) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def job_ended(self, what: str) -> None:
        pass


class PacsDialog(_EngineDialog):
    """Search a PACS for studies, and retrieve one into a project folder that then opens."""

    def __init__(self, window, parent_folder: str | Path | None = None):
        super().__init__(window, "Open from PACS")
        self.server, problem = _server_combo(window)
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("Rex (prefix) or R*x")
        self.patient_id = QLineEdit()
        self.date_from = QLineEdit()
        self.date_to = QLineEdit()
        for box in (self.date_from, self.date_to):
            box.setPlaceholderText("YYYYMMDD")
            box.setInputMask("")
        self.modality = QComboBox()
        for text, codes in MODALITIES:
            self.modality.addItem(text, codes)
        self.accession = QLineEdit()
        self.search_button = QPushButton("&Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.doubleClicked.connect(lambda _index: self.retrieve())
        self.records: list[StudyRecord] = []
        self.parent_folder = QLineEdit(str(parent_folder or Path.home()))
        self.parent_folder.textChanged.connect(lambda _t: self._selected())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.folder = QLineEdit()  # the project folder itself: the default, or one the user chose
        self.folder.setPlaceholderText("<parent>/<patient>-<date>-<accession>")
        self.retrieve_button = QPushButton("&Retrieve and open")
        self.retrieve_button.setEnabled(False)
        self.retrieve_button.clicked.connect(self.retrieve)

        form = QFormLayout()
        form.addRow("Server", self.server)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Patient ID", self.patient_id)
        dates = QWidget()
        row = QHBoxLayout(dates)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.date_from)
        row.addWidget(QLabel("to"))
        row.addWidget(self.date_to)
        form.addRow("Study date", dates)
        form.addRow("Modality", self.modality)
        form.addRow("Accession", self.accession)
        parent_row = QWidget()
        row = QHBoxLayout(parent_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.parent_folder, 1)
        row.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.search_button)
        layout.addWidget(self.table, 1)
        bottom = QFormLayout()
        bottom.addRow("Into a folder in", parent_row)
        bottom.addRow("Project folder", self.folder)
        layout.addLayout(bottom)
        layout.addWidget(self.retrieve_button)
        layout.addWidget(self.status)
        self.status.setText(problem)
        self.search_button.setEnabled(not problem)
        self.resize(760, 560)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Retrieve studies into a folder in")
        if folder:
            self.parent_folder.setText(folder)

    def query(self) -> StudyQuery:
        """The filters as a StudyQuery; raises ValueError naming the bad field."""
        return StudyQuery(patient_name=self.patient_name.text().strip(), patient_id=self.patient_id.text().strip(),
                          date_from=self.date_from.text().strip(), date_to=self.date_to.text().strip(),
                          modalities=tuple(self.modality.currentData()), accession=self.accession.text().strip())

    def search(self) -> None:
        server = self.server.currentData()
        try:
            config = pacs_jobs.SearchJob(server, self.query())
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.search_button.setEnabled(False)
        self.status.setText(f"Searching {server.label}…")
        self.submit("search", pacs_jobs.search, config, f"Search {server.label}", panel=False)

    def _selected(self) -> None:
        record = self.selected_record()
        self.retrieve_button.setEnabled(record is not None)
        if record is not None and self.parent_folder.text().strip():
            self.folder.setText(str(pacs_jobs.study_folder(self.parent_folder.text().strip(), record)))

    def selected_record(self) -> StudyRecord | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.records[rows.pop()] if len(rows) == 1 else None

    def retrieve(self) -> None:
        record, server = self.selected_record(), self.server.currentData()
        if record is None or server is None:
            return
        try:
            config = RetrieveConfig(server, record.study_uid, Path(self.folder.text().strip()))
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        name = record.patient_name.replace("^", " ") or record.study_uid
        self.submit("retrieve", pacs_jobs.retrieve, config, f"Retrieve {name}", panel=True)
        self.status.setText(f"Retrieving {name} into {config.into}…")

    def on_result(self, what: str, config, result) -> None:
        if what == "search":
            self.search_button.setEnabled(True)
            self.show_records(result)
        elif what == "retrieve":
            self.status.setText(f"{config.into}: {result.summary()}")
            if result.saved:
                self.window_.open_project(config.into)
                self.window_.show_status(f"Retrieved from {config.server.label}: {result.summary()}")

    def job_ended(self, what: str) -> None:
        if what == "search":
            self.search_button.setEnabled(True)

    def show_records(self, records: list[StudyRecord]) -> None:
        self.records = list(records)
        self.table.setRowCount(len(self.records))
        for r, rec in enumerate(self.records):
            cells = (rec.patient_name.replace("^", " "), rec.patient_id, rec.study_date, rec.accession,
                     "/".join(rec.modalities), "" if rec.instance_count is None else str(rec.instance_count),
                     rec.study_description)
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.status.setText(f"{len(self.records)} stud{'y' if len(self.records) == 1 else 'ies'} found")
        if len(self.records) == 1:
            self.table.selectRow(0)


class SendDialog(_EngineDialog):
    """Send the reviewed images' SRs (and, if ticked, the annotated images) to a PACS."""

    def __init__(self, window):
        super().__init__(window, "Send reports to PACS")
        self.setMinimumWidth(520)  # the reader field's hint and a long server URL stay readable
        self.server, problem = _server_combo(window)
        self.capture = QCheckBox("Also send the annotated image (Secondary Capture)")
        self.observer = QLineEdit()
        self.observer.setPlaceholderText("Family^Given (default: the annotation's author)")
        self.send_button = QPushButton("&Send reviewed images")
        self.send_button.clicked.connect(self.send)
        form = QFormLayout(self)
        form.addRow("Server", self.server)
        form.addRow("Reader", self.observer)
        form.addRow(self.capture)
        form.addRow(self.send_button)
        form.addRow(self.status)
        self.status.setText(problem)
        self.send_button.setEnabled(not problem and window.project is not None)
        self.report = None

    def send(self) -> None:
        project, server = self.window_.project, self.server.currentData()
        if project is None or server is None:
            return
        try:
            config = pacs_jobs.SendJob(str(project.root), SendConfig(
                server, secondary_capture=self.capture.isChecked(), observer=self.observer.text().strip() or None))
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        # The capture needs Qt to draw: only then does the job stay in this process's engine thread.
        fn = send_with_capture if self.capture.isChecked() else pacs_jobs.send
        self.send_button.setEnabled(False)
        self.submit("send", fn, config, f"Send reports to {server.label}", panel=True)
        self.status.setText(f"Sending to {server.label}…")

    def on_result(self, what: str, config, result) -> None:
        self.report = result
        self.send_button.setEnabled(True)
        lines = [result.summary()] + [f"{name}: {why}" for name, why in result.refused]
        self.status.setText("\n".join(lines))
        self.window_.show_status(f"{config.send.server.label}: {result.summary()}")

    def job_ended(self, what: str) -> None:
        self.send_button.setEnabled(True)


def open_pacs_dialog(window, dialog_cls) -> QDialog | None:
    """Show one of these dialogs (non-modal: its jobs run while the vet reads images)."""
    if getattr(window, "engine_bridge", None) is None:
        window.show_status("The PACS needs the background engine, which is off in this window")
        return None
    dialog = dialog_cls(window)
    dialog.show()
    return dialog
