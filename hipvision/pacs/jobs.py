"""The PACS operations as engine jobs: `fn(config, *, progress, cancel)` over a frozen config, so
the GUI's engine can run them (and a test can call them) like any other long work. Qt-free."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hipvision.pacs.query import StudyQuery, StudyRecord, query_studies
from hipvision.pacs.retrieve import RetrieveConfig, RetrieveReport, retrieve_study
from hipvision.pacs.send_reports import Capture, SendConfig, SendReport, send_reports
from hipvision.pacs.server import PacsServer

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SearchJob:
    server: PacsServer
    query: StudyQuery

    def __post_init__(self) -> None:
        if not isinstance(self.server, PacsServer):
            raise ValueError(f"SearchJob.server: expected a PacsServer, got {type(self.server).__name__}")
        if not isinstance(self.query, StudyQuery):
            raise ValueError(f"SearchJob.query: expected a StudyQuery, got {type(self.query).__name__}")


def search(config: SearchJob, *, progress=None, cancel=None) -> list[StudyRecord]:
    if progress is not None:
        progress(0, 1, f"Searching {config.server.label}")
    return query_studies(config.server, config.query)


def retrieve(config: RetrieveConfig, *, progress=None, cancel=None, preview=None) -> RetrieveReport:
    """With the engine's "preview" hook, each image is announced as soon as it is on disk:
    `preview(path as str, file name)`, so the window can open the study and list the image while
    the rest arrives. A path, not pixels: the window reads the file itself, and a path crosses
    from the engine's child process for free (the jobs panel shows only uint8 arrays and skips it)."""
    on_file = None if preview is None else (lambda path: preview(str(path), path.name))
    return retrieve_study(config, progress=progress, cancel=cancel, on_file=on_file)


@dataclass(frozen=True)
class SendJob:
    project_dir: str
    send: SendConfig

    def __post_init__(self) -> None:
        if not str(self.project_dir).strip():
            raise ValueError("SendJob.project_dir: a project folder is needed")
        if not isinstance(self.send, SendConfig):
            raise ValueError(f"SendJob.send: expected a SendConfig, got {type(self.send).__name__}")


def send(config: SendJob, *, progress=None, cancel=None, capture: Capture | None = None) -> SendReport:
    from hipvision.core.store import Project

    with Project.open(config.project_dir, create=False) as project:
        return send_reports(config.send, project, progress=progress, cancel=cancel, capture=capture)


def study_folder_name(record: StudyRecord) -> str:
    """<patient>-<date>-<accession or study UID>, safe on every file system: one folder per study
    that a vet recognises in a file manager, and that a second retrieve of the same study reuses."""
    parts = [record.patient_name.replace("^", " ").strip() or record.patient_id or "patient",
             record.study_date or "nodate", record.accession or record.study_uid]
    return "-".join(_UNSAFE.sub("_", p).strip("_") or "x" for p in parts)


def study_folder(parent: str | Path, record: StudyRecord) -> Path:
    return Path(parent) / study_folder_name(record)
