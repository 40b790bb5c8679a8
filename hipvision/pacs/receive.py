"""What C-GET and C-MOVE share: objects arrive as C-STOREs (pynetdicom's thread), the `Sink` writes
each image atomically as `<SOPInstanceUID>.dcm` and names the rest, `store_handler` answers each
C-STORE, `storage_contexts` lists what we accept, `study_exists` asks C-FIND first, and
`sub_operations` reads the counts of a C-GET/C-MOVE response."""

from __future__ import annotations

import queue
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hipvision.core.atomic import WriteError, atomic_path
from hipvision.core.jobs import check_cancel
from hipvision.pacs.connect import check_status
from hipvision.pacs.server import PacsError, PacsServer

UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

# C-STORE statuses we answer with (PS3.4 Annex B.2.3 / C.4).
STORE_OK = 0x0000
STORE_OUT_OF_RESOURCES = 0xA700  # refused: nothing written (disk full, or the user cancelled)
STORE_NOT_AUTHORISED = 0x0124  # refused: not part of what we asked for
STORE_CANNOT_UNDERSTAND = 0xC210


@dataclass(frozen=True)
class RetrieveReport:
    """`saved`: the image files written; `skipped`: (SOP instance UID, reason) of each object left out."""

    saved: tuple[Path, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def summary(self) -> str:
        text = f"{len(self.saved)} image(s) saved"
        return text + (f", {len(self.skipped)} non-image object(s) skipped" if self.skipped else "")


def not_an_image(ds) -> str | None:
    """Why `ds` is not kept (None: it is an image). The SOP class names what it is, e.g.
    "Basic Text SR Storage: no pixel data"."""
    if any(k in ds for k in _PIXEL_KEYWORDS):
        return None
    sop_class = ds.get("SOPClassUID", "")
    name = getattr(sop_class, "name", "") or str(sop_class) or "unknown object"
    return f"{name}: no pixel data"


class Sink:
    """Where received objects go: images written atomically, others noted. Thread-safe for C-GET
    and C-MOVE, whose C-STORE handlers run in pynetdicom's association threads; the caller's thread
    drains `arrived` so that progress and on_file are called from the thread that called retrieve_study."""

    def __init__(self, into: Path) -> None:
        self.into = into
        self.arrived: queue.Queue[Path] = queue.Queue()
        self.saved: list[Path] = []
        self.skipped: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def take(self, ds) -> Path | None:
        uid = str(ds.get("SOPInstanceUID", ""))
        reason = not_an_image(ds)
        if reason is not None:
            self.skipped.append((uid or "?", reason))
            return None
        if not UID_RE.match(uid) or len(uid) > 64:  # the name of a file in the user's folder: no "../"
            self.skipped.append((uid or "?", "no valid SOP Instance UID"))
            return None
        import pydicom

        path = self.into / f"{uid}.dcm"
        with atomic_path(path) as tmp:
            pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        self.arrived.put(path)
        return path

    def drain(self, on_file: Callable[[Path], None] | None) -> None:
        """Hand each file written since the last call to `on_file`; raise what a handler met."""
        while True:
            try:
                path = self.arrived.get_nowait()
            except queue.Empty:
                break
            self.saved.append(path)
            if on_file is not None:
                on_file(path)
        if self.error is not None:
            raise self.error

    def report(self) -> RetrieveReport:
        return RetrieveReport(saved=tuple(self.saved), skipped=tuple(self.skipped))


def store_handler(sink: Sink, cancel, study_uid: str | None = None):
    """A pynetdicom EVT_C_STORE handler writing into `sink`. With `study_uid`, an object of another
    study is refused: a C-MOVE's storage port is open to anyone on the network while it runs."""

    def on_store(event) -> int:
        if cancel is not None and cancel.is_set():
            return STORE_OUT_OF_RESOURCES  # refused; nothing written
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            if study_uid is not None and str(ds.get("StudyInstanceUID", "")) != study_uid:
                return STORE_NOT_AUTHORISED
            sink.take(ds)
        except WriteError as exc:
            sink.error = sink.error or exc
            return STORE_OUT_OF_RESOURCES
        except Exception as exc:  # noqa: BLE001 - an undecodable object fails its sub-operation, not the thread
            sink.skipped.append((str(getattr(event.request, "AffectedSOPInstanceUID", "?")),
                                 f"unreadable ({type(exc).__name__})"))
            return STORE_CANNOT_UNDERSTAND
        return STORE_OK

    return on_store


# We must accept a storage context for every SOP class the study may hold: the radiograph classes
# with any transfer syntax (no transcoding of a compressed original), and the usual non-image objects
# so that they can be received and named rather than failing the sub-operation.
_IMAGE_CLASSES = (
    "ComputedRadiographyImageStorage", "DigitalXRayImageStorageForPresentation",
    "DigitalXRayImageStorageForProcessing", "DigitalMammographyXRayImageStorageForPresentation",
    "SecondaryCaptureImageStorage", "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
    "MultiFrameGrayscaleWordSecondaryCaptureImageStorage", "MultiFrameTrueColorSecondaryCaptureImageStorage",
    "CTImageStorage", "MRImageStorage", "UltrasoundImageStorage", "XRayAngiographicImageStorage",
    "XRayRadiofluoroscopicImageStorage", "VLPhotographicImageStorage",
)
_OTHER_CLASSES = (
    "BasicTextSRStorage", "EnhancedSRStorage", "ComprehensiveSRStorage", "Comprehensive3DSRStorage",
    "XRayRadiationDoseSRStorage", "KeyObjectSelectionDocumentStorage", "GrayscaleSoftcopyPresentationStateStorage",
    "EncapsulatedPDFStorage",
)


def storage_contexts() -> list:
    """(SOP class UID, transfer syntaxes) for every object we accept."""
    from pynetdicom import ALL_TRANSFER_SYNTAXES, DEFAULT_TRANSFER_SYNTAXES, sop_class

    groups = ((_IMAGE_CLASSES, ALL_TRANSFER_SYNTAXES), (_OTHER_CLASSES, DEFAULT_TRANSFER_SYNTAXES))
    return [(getattr(sop_class, name), list(syntaxes)) for names, syntaxes in groups for name in names]


def study_identifier(study_uid: str):
    from pydicom import Dataset

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def study_exists(server: PacsServer, assoc, study_uid: str) -> bool:
    """C-FIND the study first: a C-GET or C-MOVE of an unknown study fails with a bare 0xC000."""
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    found = False
    for status, _ in assoc.send_c_find(study_identifier(study_uid), FIND):
        code = check_status(server, status, "retrieve")
        if code in (0xFF00, 0xFF01):
            found = True
        elif code != 0x0000:
            raise PacsError(f"{server.label}: retrieve failed (C-FIND status 0x{code:04X})")
    return found


def sub_operations(status) -> tuple[int, int, int, int]:
    """(remaining, completed, failed, warning) sub-operations of a C-GET/C-MOVE response."""
    keys = ("NumberOfRemainingSuboperations", "NumberOfCompletedSuboperations", "NumberOfFailedSuboperations",
            "NumberOfWarningSuboperations")
    remaining, completed, failed, warning = (int(status.get(k, 0) or 0) for k in keys)
    return remaining, completed, failed, warning


def follow_responses(server: PacsServer, responses, sink: Sink, *, on_file, progress, cancel,
                     check=None) -> tuple[int, tuple[int, int, int, int]]:
    """Read a C-GET/C-MOVE response stream: after each response save what arrived, report the
    pending ones and honour cancel; returns the final (status code, sub-operation counts).
    `check(status)`, if given, sees every response first (C-GET's refusal test)."""
    final = None
    for status, _ in responses:
        if check is not None:
            check(status)
        code = check_status(server, status, "retrieve")
        sink.drain(on_file)
        counts = sub_operations(status)
        if code in (0xFF00, 0xFF01):
            if progress is not None:
                progress(sum(counts[1:]), sum(counts), f"{len(sink.saved)} image(s)")
            check_cancel(cancel)
        else:
            final = (code, counts)
    return final if final is not None else (0x0000, (0, 0, 0, 0))


def finish(server: PacsServer, study_uid: str, sink: Sink, counts, progress) -> None:
    """After a C-GET/C-MOVE the PACS called a success: something must have come, and nothing failed."""
    received = len(sink.saved) + len(sink.skipped)
    if received == 0:
        raise PacsError(f"{server.label}: study {study_uid} not found")
    failed = counts[2]
    if failed:
        raise PacsError(f"{server.label}: {failed} object(s) of study {study_uid} could not be transferred "
                        f"({len(sink.saved)} saved)")
    if progress is not None:
        progress(received, received, f"{len(sink.saved)} image(s)")
