"""Fetch one study from a PACS into a folder: `retrieve_study(RetrieveConfig(...), progress=, cancel=)`
over WADO-RS, C-GET or C-MOVE (`pacs.move`). Each image lands atomically as `<SOPInstanceUID>.dcm`;
objects without pixel data (SR, KO, PR, PDF...) are not written and are listed with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hipvision.core.jobs import Cancelled, check_cancel
from hipvision.pacs.connect import association, search_all, web_client, web_errors
from hipvision.pacs.receive import (
    UID_RE,
    RetrieveReport,
    Sink,
    finish,
    follow_responses,
    storage_contexts,
    store_handler,
    study_exists,
    study_identifier,
)
from hipvision.pacs.server import PacsError, PacsServer

__all__ = ["DEFAULT_MOVE_PORT", "METHODS", "RetrieveConfig", "RetrieveReport", "retrieve_study"]

# "auto": C-GET, and C-MOVE when the PACS refuses C-GET. DICOMweb servers always use WADO-RS.
METHODS = ("auto", "get", "move")
# The port our storage SCP listens on for C-MOVE: 11112 is DICOM's registered port and, unlike
# 104, needs no administrator rights.
DEFAULT_MOVE_PORT = 11112


def _check_uid(field_name: str, value: str) -> None:
    if not isinstance(value, str) or len(value) > 64 or not UID_RE.match(value):
        raise ValueError(f"{field_name}: {value!r} is not a DICOM UID (digits and dots, at most 64)")


@dataclass(frozen=True)
class RetrieveConfig:
    """Which study from which server, into which folder (created if missing); for DIMSE, by which
    `method`, and the `move_port` the PACS sends a C-MOVE's images to (it must know our AE title
    `server.calling_ae` at this computer's address and that port)."""

    server: PacsServer
    study_uid: str
    into: Path
    method: str = "auto"
    move_port: int = DEFAULT_MOVE_PORT

    def __post_init__(self) -> None:
        if not isinstance(self.server, PacsServer):
            raise ValueError(f"RetrieveConfig.server: expected a PacsServer, got {type(self.server).__name__}")
        _check_uid("RetrieveConfig.study_uid", self.study_uid)
        if not str(self.into).strip():
            raise ValueError("RetrieveConfig.into: a folder is needed")
        object.__setattr__(self, "into", Path(self.into))
        if self.into.exists() and not self.into.is_dir():
            raise ValueError(f"RetrieveConfig.into: {self.into} is a file, not a folder")
        if self.method not in METHODS:
            raise ValueError(f"RetrieveConfig.method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        if self.method != "auto" and self.server.kind != "dimse":
            raise ValueError(f"RetrieveConfig.method: {self.method!r} needs a DIMSE server (AET@host:port); "
                             f"{self.server.label} is DICOMweb")
        if isinstance(self.move_port, bool) or not isinstance(self.move_port, int) or not 1 <= self.move_port <= 65535:
            raise ValueError(f"RetrieveConfig.move_port: expected 1..65535, got {self.move_port!r}")


def retrieve_study(config: RetrieveConfig, *, progress=None, cancel=None,
                   on_file: Callable[[Path], None] | None = None) -> RetrieveReport:
    """Fetch every object of the study; raise Cancelled when `cancel` is set (the files already
    written are complete; none is half-written), PacsError when the server fails.

    `progress(done, total, message)` counts objects; `on_file(path)` is called for each image as
    soon as it is on disk, so a viewer can open it while the rest arrives."""
    from hipvision.pacs.move import cmove

    sink = Sink(config.into)  # the folder is made by the first file written: a failed retrieve leaves no trace
    if config.server.kind == "dicomweb":
        _wado(config, sink, progress, cancel, on_file)
    elif config.method == "move":
        cmove(config, sink, progress, cancel, on_file)
    elif config.method == "get":
        _cget(config, sink, progress, cancel, on_file)
    else:
        try:
            _cget(config, sink, progress, cancel, on_file)
        except GetRefused as refused:
            try:
                cmove(config, sink, progress, cancel, on_file)
            except PacsError as exc:  # one line: why C-MOVE failed, and that C-GET did too
                raise PacsError(f"{exc} (C-GET was refused too: {refused.why})") from None
    return sink.report()


def _wado(config: RetrieveConfig, sink: Sink, progress, cancel, on_file) -> None:
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
        sink.drain(on_file)
        if progress is not None:
            progress(i + 1, len(instances), sop)


def _value(row: dict, tag: str) -> str:
    values = row.get(tag, {}).get("Value") or [""]
    return str(values[0])


class GetRefused(PacsError):
    """The PACS will not do C-GET for us (no C-GET context accepted, the request refused or
    aborted) and sent nothing: C-MOVE may still work."""

    def __init__(self, server: PacsServer, why: str) -> None:
        super().__init__(f"{server.label} refused C-GET ({why})")
        self.why = why


# C-GET statuses that mean "not for you" rather than "this study failed": SOP class not supported,
# not authorised, unable to perform sub-operations (e.g. no SCP role for us).
_GET_REFUSALS = (0x0122, 0x0124, 0xA702)


def _get_contexts():
    from pynetdicom import build_context, build_role
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    # C-GET sends the objects back on our association: we offer storage as SCP (role selection).
    storage = storage_contexts()
    contexts = [build_context(GET), build_context(FIND), *(build_context(uid, ts) for uid, ts in storage)]
    return contexts, [build_role(uid, scp_role=True) for uid, _ in storage]


def _cget(config: RetrieveConfig, sink: Sink, progress, cancel, on_file) -> None:
    from pynetdicom import evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    server = config.server
    contexts, roles = _get_contexts()
    handlers = [(evt.EVT_C_STORE, store_handler(sink, cancel))]
    with association(server, contexts, roles=roles, evt_handlers=handlers) as assoc:
        if not study_exists(server, assoc, config.study_uid):
            raise PacsError(f"{server.label}: study {config.study_uid} not found")
        if not any(cx.abstract_syntax == GET for cx in assoc.accepted_contexts):
            raise GetRefused(server, "it accepts no C-GET")

        def refused(status) -> None:  # an abort before anything came: the PACS says no to C-GET
            if getattr(status, "Status", None) is None and not (sink.saved or sink.skipped or sink.arrived.qsize()):
                raise GetRefused(server, "the request was aborted")

        code, counts = follow_responses(server, assoc.send_c_get(study_identifier(config.study_uid), GET), sink,
                                        on_file=on_file, progress=progress, cancel=cancel, check=refused)
    sink.drain(on_file)
    check_cancel(cancel)
    received = len(sink.saved) + len(sink.skipped)
    if code in _GET_REFUSALS and received == 0:
        raise GetRefused(server, f"status 0x{code:04X}")
    if code not in (0x0000, 0xB000):
        if code == 0xFE00:
            raise Cancelled()
        raise PacsError(f"{server.label}: retrieve of study {config.study_uid} failed (C-GET status 0x{code:04X})")
    finish(server, config.study_uid, sink, counts, progress)

