"""Send the measurements of reviewed images back to the PACS: one SR per image (and optionally the
annotated Secondary Capture), each recorded in the project once the PACS has accepted it.

`send_reports(config, *, progress, cancel, capture=None)` is the job the CLI runs (and the GUI's
engine can): images that cannot be reported (an unreviewed prediction, a source that is not DICOM)
are listed with the reason and the others still go. A re-send after an edit is a new SR naming the
last one sent as its predecessor (`sent.last_sent`), so the PACS keeps both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hipvision.core.records import LABELLED_STATUSES
from hipvision.core.store import Project
from hipvision.pacs.server import PacsServer

# Draws the annotated image as a Secondary Capture (needs Qt: `gui.secondary_capture`); injected by
# the caller so this module stays Qt-free.
Capture = Callable[[Project, int], Any]


@dataclass(frozen=True)
class SendConfig:
    server: PacsServer
    images: tuple[str, ...] = ()  # file names or project paths; empty: every reviewed image
    secondary_capture: bool = False
    observer: str | None = None  # the reader as a DICOM person name, "Family^Given"

    def __post_init__(self) -> None:
        if not isinstance(self.server, PacsServer):
            raise ValueError(f"SendConfig.server must be a PacsServer, got {type(self.server).__name__}")
        if any(not str(name).strip() for name in self.images):
            raise ValueError("SendConfig.images: an empty image name")
        if self.observer is not None and not self.observer.strip():
            raise ValueError("SendConfig.observer: empty; leave it out to use the annotation's author")


@dataclass
class SentImage:
    name: str
    sop_uid: str  # the SR's SOP Instance UID
    na: dict[str, float]  # patient side -> NA as reported (0.1 deg)
    predecessor: str | None  # the SR it replaces in the record, if one was sent before
    capture_uid: str | None = None


@dataclass
class SendReport:
    sent: list[SentImage] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (image, why it was not sent)

    def summary(self) -> str:
        return f"{len(self.sent)} report(s) sent" + (f", {len(self.refused)} image(s) not sent" if self.refused else "")


def _selected(project: Project, names: Sequence[str]) -> tuple[list, list[tuple[str, str]]]:
    images = project.images()
    if not names:
        return [r for r in images if r.status in LABELLED_STATUSES and r.error is None], []
    chosen, missing = [], []
    for name in names:
        match = [r for r in images if name in (r.name, r.path)]
        if match:
            chosen.append(match[0])
        else:
            missing.append((name, "no such image in the project"))
    return chosen, missing


def _na_values(dataset) -> dict[str, float]:
    """NA per side as written in the SR (read back from the dataset, not from the project)."""
    import highdicom as hd

    out: dict[str, float] = {}
    report = hd.sr.ComprehensiveSR.from_dataset(dataset, copy=True)
    for group in report.content.get_image_measurement_groups():
        name = str(group.tracking_identifier or "")
        for m in group.get_measurements():
            if m.name.value == "NA":
                out[name.replace(" hip", "")] = float(m.value)
    return out


def send_reports(config: SendConfig, project: Project, *, progress=None, cancel=None,
                 capture: Capture | None = None) -> SendReport:
    from hipvision.pacs.send import send_datasets
    from hipvision.pacs.sent import last_sent, record_sent
    from hipvision.pacs.sr import measurement_report

    if config.secondary_capture and capture is None:
        raise ValueError("a Secondary Capture was asked for, but no drawing function was given")
    records, refused = _selected(project, config.images)
    report = SendReport(refused=list(refused))
    for i, rec in enumerate(records):
        if cancel is not None and cancel.is_set():
            from hipvision.core.jobs import Cancelled

            raise Cancelled()
        if progress is not None:
            progress(i, len(records), rec.name)
        previous = last_sent(project, rec.id)
        try:
            sr = measurement_report(project, rec.id, previous=previous, observer=config.observer)
            datasets = [sr]
            if config.secondary_capture:
                datasets.append(capture(project, rec.id))  # type: ignore[misc]
        except ValueError as exc:
            report.refused.append((rec.name, str(exc)))
            continue
        results = send_datasets(config.server, datasets)
        failed = [r for r in results if not r.ok]
        if failed:
            report.refused.append((rec.name, f"{config.server.label} refused it: {failed[0].message}"))
            continue
        # Recorded only once the PACS has it: a failed send leaves no record that would make the next
        # one name a predecessor the PACS never received.
        record_sent(project, rec.id, sr, str(config.server))
        capture_uid = None
        if config.secondary_capture:
            record_sent(project, rec.id, datasets[1], str(config.server))
            capture_uid = str(datasets[1].SOPInstanceUID)
        report.sent.append(SentImage(rec.name, str(sr.SOPInstanceUID), _na_values(sr),
                                     None if previous is None else previous.sop_uid, capture_uid))
    if progress is not None:
        progress(len(records), len(records), "")
    return report
