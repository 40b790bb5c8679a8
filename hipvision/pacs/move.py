"""C-MOVE retrieval, for the many PACS that offer no C-GET: while the PACS runs the move,
HipVision listens (a pynetdicom storage SCP under our AE title) on `RetrieveConfig.move_port`, and
the PACS opens its own association to us and C-STOREs the study there. The PACS must know our AE
title at this computer's address and that port; when it does not, the move fails with a bare status
and the message says what to register. What arrives goes through the same `Sink` as C-GET."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hipvision.core.jobs import Cancelled, check_cancel
from hipvision.pacs.connect import association
from hipvision.pacs.receive import (
    Sink,
    finish,
    follow_responses,
    storage_contexts,
    store_handler,
    study_exists,
    study_identifier,
)
from hipvision.pacs.server import PacsError


def _unknown_destination(config, code: int) -> str:
    server = config.server
    return (f"{server.label} could not send study {config.study_uid} to AE title '{server.calling_ae}' "
            f"(C-MOVE status 0x{code:04X}): the PACS must know AE title {server.calling_ae} at this "
            f"computer's address, port {config.move_port}")


@contextmanager
def storage_scp(config, sink: Sink, cancel) -> Iterator[None]:
    """Listen on every interface at `config.move_port` (the PACS is another machine) while the body
    runs; accept only objects of the study asked for. On exit, wait for a C-STORE still being
    written (atomically) so the caller sees finished files only."""
    from pynetdicom import AE, evt

    server = config.server
    ae = AE(ae_title=server.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = server.timeout_s
    for uid, syntaxes in storage_contexts():
        ae.add_supported_context(uid, syntaxes)
    handlers = [(evt.EVT_C_STORE, store_handler(sink, cancel, config.study_uid))]
    try:
        scp = ae.start_server(("", config.move_port), block=False, evt_handlers=handlers)
    except OSError as exc:
        raise PacsError(f"cannot listen on port {config.move_port} for C-MOVE: {exc.strerror or exc} "
                        "(choose another move port, and register it on the PACS)") from None
    ok = False
    try:
        yield
        ok = True
    finally:
        incoming = scp.active_associations
        scp.shutdown()
        for assoc in incoming:
            if not ok:
                assoc.abort()  # the user cancelled or the move failed: take no more
            assoc.join(timeout=server.timeout_s)


def cmove(config, sink: Sink, progress, cancel, on_file) -> None:
    """Retrieve `config.study_uid` by C-MOVE to our own AE title; see the module's docstring."""
    from pynetdicom import build_context
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    server = config.server
    if server.tls:  # the PACS would connect back to us in the clear: patient data must not go that way
        raise PacsError(f"{server.label}: C-MOVE over TLS is not supported (the PACS would send the images to "
                        f"port {config.move_port} unencrypted); use C-GET or DICOMweb")
    with storage_scp(config, sink, cancel):
        with association(server, [build_context(MOVE), build_context(FIND)]) as assoc:
            if not study_exists(server, assoc, config.study_uid):
                raise PacsError(f"{server.label}: study {config.study_uid} not found")
            if not any(cx.abstract_syntax == MOVE for cx in assoc.accepted_contexts):
                raise PacsError(f"{server.label} accepts no C-MOVE from AE title '{server.calling_ae}'")
            code, counts = follow_responses(
                server, assoc.send_c_move(study_identifier(config.study_uid), server.calling_ae, MOVE), sink,
                on_file=on_file, progress=progress, cancel=cancel)
    sink.drain(on_file)
    check_cancel(cancel)
    received = len(sink.saved) + len(sink.skipped)
    if code == 0xFE00:
        raise Cancelled()
    if received == 0 and (code not in (0x0000, 0xB000) or counts[2]):
        # Orthanc answers 0xC000 both for an AE it does not know and for one it cannot reach; the
        # standard's 0xA801 (move destination unknown) means the same to the user.
        raise PacsError(_unknown_destination(config, code))
    if code not in (0x0000, 0xB000):
        raise PacsError(f"{server.label}: retrieve of study {config.study_uid} failed (C-MOVE status 0x{code:04X}, "
                        f"{len(sink.saved)} image(s) saved)")
    finish(server, config.study_uid, sink, counts, progress)
