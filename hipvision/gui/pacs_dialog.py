"""File ▸ Open from PACS…: the query/retrieve dialog (File ▸ Send reports to PACS… is
gui/pacs_send_dialog.py). The work runs on the engine (pacs.jobs); this widget only gathers the
request, lists the studies found and hands the images back to the window as they arrive: the study
folder opens with the first image, and each later one joins the image list, so the vet reads image 1
while the others download."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
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

from hipvision.gui.pacs_engine_dialog import EngineDialog, open_pacs_dialog, server_combo
from hipvision.gui.pacs_send_dialog import SendDialog
from hipvision.pacs import jobs as pacs_jobs
from hipvision.pacs.query import StudyQuery, StudyRecord
from hipvision.pacs.retrieve import RetrieveConfig

__all__ = ["PacsDialog", "SendDialog", "open_pacs_dialog"]  # the window's File menu opens both from here

MODALITIES = (("CR or DX", ("CR", "DX")), ("CR", ("CR",)), ("DX", ("DX",)), ("any", ()))
COLUMNS = ("Patient", "Patient ID", "Date", "Accession", "Modalities", "Images", "Description")


class PacsDialog(EngineDialog):
    """Search a PACS for studies, and retrieve one into a project folder that then opens."""

    def __init__(self, window, parent_folder: str | Path | None = None):
        super().__init__(window, "Open from PACS")
        self.server, problem = server_combo(window)
        self._arrivals: dict[int, int] = {}  # retrieve job id -> images on disk so far
        self._opened_live: set[int] = set()  # retrieves whose study opened with their first image
        self.engine.preview.connect(self._arrived)
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
            # A PACS without C-GET sends by C-MOVE to our AE title at the settings' port.
            config = RetrieveConfig(server, record.study_uid, Path(self.folder.text().strip()),
                                    move_port=self.window_.settings.pacs_move_port)
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        name = record.patient_name.replace("^", " ") or record.study_uid
        # The "preview" hook announces each image on disk (pacs.jobs.retrieve): see _arrived.
        self.submit("retrieve", pacs_jobs.retrieve, config, f"Retrieve {name}", panel=True, hooks=("preview",))
        self.status.setText(f"Retrieving {name} into {config.into}…")

    def _showing(self, folder: Path) -> bool:
        project = self.window_.project
        return project is not None and Path(project.root).resolve() == Path(folder).resolve()

    def _arrived(self, job_id: int, _path, _name: str) -> None:
        """One image of a retrieve is on disk: the first opens the study folder as the project,
        each later one joins its image list, so the vet can read image 1 while 2..n download."""
        if self._mine.get(job_id) != "retrieve":
            return
        config = self.engine.jobs[job_id].config
        n = self._arrivals[job_id] = self._arrivals.get(job_id, 0) + 1
        if self._showing(config.into):
            self.window_.rescan()  # File ▸ Rescan: imports what is new, keeps the image the vet is on
        elif n == 1:
            if not self.window_.open_project(config.into):
                return  # the banner says why; the job goes on, and its end tries again
        else:
            return  # the vet opened another project meanwhile: not pulled back to this one
        self._opened_live.add(job_id)
        self.window_.show_status(f"Retrieving from {config.server.label}: {n} image(s) so far")
        self.status.setText(f"Retrieving into {config.into}: {n} image(s) so far…")

    def on_result(self, what: str, job_id: int, config, result) -> None:
        if what == "search":
            self.search_button.setEnabled(True)
            self.show_records(result)
        elif what == "retrieve":
            self._arrivals.pop(job_id, None)
            self.status.setText(f"{config.into}: {result.summary()}")
            # Opened as the first image came (unless that failed): every image is listed by now.
            if result.saved and job_id not in self._opened_live:
                self.window_.open_project(config.into)
            self._opened_live.discard(job_id)
            if result.saved and self._showing(config.into):
                self.window_.show_status(f"Retrieved from {config.server.label}: {result.summary()}")

    def job_ended(self, what: str, job_id: int) -> None:
        self._arrivals.pop(job_id, None)
        self._opened_live.discard(job_id)
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
