"""Fetch one study from a PACS into a folder: `retrieve_study(RetrieveConfig(...), progress=, cancel=)`
over WADO-RS or C-GET. Each image lands atomically as `<SOPInstanceUID>.dcm`; objects without pixel
data (SR, KO, PR, PDF...) are not written and are listed with the reason."""

from __future__ import annotations

import queue
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hipvision.core.atomic import WriteError, atomic_path
from hipvision.core.jobs import Cancelled, check_cancel
from hipvision.pacs.connect import association, check_status, search_all, web_client, web_errors
from hipvision.pacs.server import PacsError, PacsServer

_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def _check_uid(field_name: str, value: str) -> None:
    if not isinstance(value, str) or len(value) > 64 or not _UID_RE.match(value):
        raise ValueError(f"{field_name}: {value!r} is not a DICOM UID (digits and dots, at most 64)")


@dataclass(frozen=True)
class RetrieveConfig:
    """Which study from which server, into which folder (created if missing)."""

    server: PacsServer
    study_uid: str
    into: Path

    def __post_init__(self) -> None:
        if not isinstance(self.server, PacsServer):
            raise ValueError(f"RetrieveConfig.server: expected a PacsServer, got {type(self.server).__name__}")
        _check_uid("RetrieveConfig.study_uid", self.study_uid)
        if not str(self.into).strip():
            raise ValueError("RetrieveConfig.into: a folder is needed")
        object.__setattr__(self, "into", Path(self.into))
        if self.into.exists() and not self.into.is_dir():
            raise ValueError(f"RetrieveConfig.into: {self.into} is a file, not a folder")


@dataclass(frozen=True)
class RetrieveReport:
    """`saved`: the image files written; `skipped`: (SOP instance UID, reason) of each object left out."""

    saved: tuple[Path, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def summary(self) -> str:
        text = f"{len(self.saved)} image(s) saved"
        return text + (f", {len(self.skipped)} non-image object(s) skipped" if self.skipped else "")


def _not_an_image(ds) -> str | None:
    """Why `ds` is not kept (None: it is an image). The SOP class names what it is, e.g.
    "Basic Text SR Storage: no pixel data"."""
    if any(k in ds for k in _PIXEL_KEYWORDS):
        return None
    sop_class = ds.get("SOPClassUID", "")
    name = getattr(sop_class, "name", "") or str(sop_class) or "unknown object"
    return f"{name}: no pixel data"


class _Sink:
    """Where received objects go: images written atomically, others noted. Thread-safe for C-GET,
    whose C-STORE handler runs in pynetdicom's association thread; the caller's thread drains
    `arrived` so that progress and on_file are called from the thread that called retrieve_study."""

    def __init__(self, into: Path) -> None:
        self.into = into
        self.arrived: queue.Queue[Path] = queue.Queue()
        self.saved: list[Path] = []
        self.skipped: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def take(self, ds) -> Path | None:
        uid = str(ds.get("SOPInstanceUID", ""))
        reason = _not_an_image(ds)
        if reason is not None:
            self.skipped.append((uid or "?", reason))
            return None
        if not _UID_RE.match(uid) or len(uid) > 64:  # the name of a file in the user's folder: no "../"
            self.skipped.append((uid or "?", "no valid SOP Instance UID"))
            return None
        import pydicom

        path = self.into / f"{uid}.dcm"
        with atomic_path(path) as tmp:
            pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        self.arrived.put(path)
        return path

    def drain(self, on_arrival: Callable[[Path], None]) -> None:
        while True:
            try:
                path = self.arrived.get_nowait()
            except queue.Empty:
                return
            self.saved.append(path)
            on_arrival(path)

    def report(self) -> RetrieveReport:
        return RetrieveReport(saved=tuple(self.saved), skipped=tuple(self.skipped))


def retrieve_study(config: RetrieveConfig, *, progress=None, cancel=None,
                   on_file: Callable[[Path], None] | None = None) -> RetrieveReport:
    """Fetch every object of the study; raise Cancelled when `cancel` is set (the files already
    written are complete; none is half-written), PacsError when the server fails.

    `progress(done, total, message)` counts objects; `on_file(path)` is called for each image as
    soon as it is on disk, so a viewer can open it while the rest arrives."""
    sink = _Sink(config.into)  # the folder is made by the first file written: a failed retrieve leaves no trace
    if config.server.kind == "dicomweb":
        _wado(config, sink, progress, cancel, on_file)
    else:
        _cget(config, sink, progress, cancel, on_file)
    return sink.report()


def _wado(config: RetrieveConfig, sink: _Sink, progress, cancel, on_file) -> None:
    server = config.server
    client = web_client(server)
    with web_errors(server, "retrieve"):
        rows = search_all(lambda limit, offset: client.search_for_instances(
            study_instance_uid=config.study_uid, fields=["SOPClassUID"], limit=limit, offset=offset),
            key=lambda row: str(row.get("00080018", {}).get("Value", [""])[0]))
    instances = [(_value(row, "0020000E"), _value(row, "00080018")) for row in rows]
    instances = [(series, sop) for series, sop in instances if series and sop]
    if not instances:
        raise PacsError(f"{server.label}: study {config.study_uid} not found")
    for i, (series, sop) in enumerate(instances):
        check_cancel(cancel)
        with web_errors(server, f"retrieve of instance {sop}"):
            # transfer-syntax=*: the object as stored, so a lossless original is not transcoded on the way
            ds = client.retrieve_instance(config.study_uid, series, sop, media_types=(("application/dicom", "*"),))
        sink.take(ds)
        sink.drain(lambda path: on_file(path) if on_file else None)
        if progress is not None:
            progress(i + 1, len(instances), sop)


def _value(row: dict, tag: str) -> str:
    values = row.get(tag, {}).get("Value") or [""]
    return str(values[0])


# C-GET asks the PACS to send the objects back on the same association, so we must offer (as SCP)
# a storage context for every SOP class the study may hold: the radiograph classes with any transfer
# syntax (no transcoding of a compressed original), and the usual non-image objects so that they can
# be received and named rather than failing the sub-operation.
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


def _get_contexts():
    from pynetdicom import ALL_TRANSFER_SYNTAXES, DEFAULT_TRANSFER_SYNTAXES, build_context, build_role, sop_class
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    contexts, roles = [build_context(GET), build_context(FIND)], []
    for names, syntaxes in ((_IMAGE_CLASSES, ALL_TRANSFER_SYNTAXES), (_OTHER_CLASSES, DEFAULT_TRANSFER_SYNTAXES)):
        for name in names:
            uid = getattr(sop_class, name)
            contexts.append(build_context(uid, list(syntaxes)))
            roles.append(build_role(uid, scp_role=True))
    return contexts, roles


def _cget(config: RetrieveConfig, sink: _Sink, progress, cancel, on_file) -> None:
    from pydicom import Dataset
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    server = config.server

    def on_store(event) -> int:
        if cancel is not None and cancel.is_set():
            return 0xA700  # refused: out of resources; nothing written
        try:
            ds = event.dataset
            ds.file_meta = event.file_meta
            sink.take(ds)
        except WriteError as exc:
            sink.error = sink.error or exc
            return 0xA700
        except Exception as exc:  # noqa: BLE001 - an undecodable object fails its sub-operation, not the thread
            sink.skipped.append((str(getattr(event.request, "AffectedSOPInstanceUID", "?")),
                                 f"unreadable ({type(exc).__name__})"))
            return 0xC210  # cannot understand
        return 0x0000

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = config.study_uid
    contexts, roles = _get_contexts()
    done = total = 0
    final = None
    with association(server, contexts, roles=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
        # Ask first whether the study is there: a C-GET of an unknown study fails with a bare 0xC000.
        if not _study_exists(server, assoc, config.study_uid):
            raise PacsError(f"{server.label}: study {config.study_uid} not found")
        for status, _ in assoc.send_c_get(identifier, GET):
            code = check_status(server, status, "retrieve")
            sink.drain(lambda path: on_file(path) if on_file else None)
            if sink.error is not None:
                raise sink.error
            counts = [int(status.get(k, 0) or 0) for k in ("NumberOfRemainingSuboperations",
                      "NumberOfCompletedSuboperations", "NumberOfFailedSuboperations",
                      "NumberOfWarningSuboperations")]
            if code in (0xFF00, 0xFF01):
                total, done = sum(counts), sum(counts[1:])
                if progress is not None:
                    progress(done, total, f"{len(sink.saved)} image(s)")
                check_cancel(cancel)
            else:
                final = (code, counts)
    sink.drain(lambda path: on_file(path) if on_file else None)
    if sink.error is not None:
        raise sink.error
    check_cancel(cancel)
    code, counts = final if final is not None else (0x0000, [0, 0, 0, 0])
    received = len(sink.saved) + len(sink.skipped)
    if code not in (0x0000, 0xB000):
        if code == 0xFE00:
            raise Cancelled()
        raise PacsError(f"{server.label}: retrieve of study {config.study_uid} failed (C-GET status 0x{code:04X})")
    if received == 0:
        raise PacsError(f"{server.label}: study {config.study_uid} not found")
    failed = counts[2]
    if failed:
        raise PacsError(f"{server.label}: {failed} object(s) of study {config.study_uid} could not be transferred "
                        f"({len(sink.saved)} saved)")
    if progress is not None:
        progress(received, received, f"{len(sink.saved)} image(s)")


def _study_exists(server: PacsServer, assoc, study_uid: str) -> bool:
    from pydicom import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    found = False
    for status, _ in assoc.send_c_find(identifier, FIND):
        code = check_status(server, status, "retrieve")
        if code in (0xFF00, 0xFF01):
            found = True
        elif code != 0x0000:
            raise PacsError(f"{server.label}: retrieve failed (C-FIND status 0x{code:04X})")
    return found
