"""Send DICOM objects (an SR of the measurements, secondary captures) to a PACS:
`send_datasets(server, datasets, progress=, cancel=)` over STOW-RS or C-STORE."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hipvision.core.jobs import check_cancel
from hipvision.pacs.connect import association, web_client, web_errors
from hipvision.pacs.server import PacsServer

# Offered besides each dataset's own transfer syntax: what every PACS reads.
_PLAIN_SYNTAXES = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")  # Explicit VR LE, Implicit VR LE
_MAX_CONTEXTS = 127  # 128 presentation contexts per association (odd IDs 1..255)


@dataclass(frozen=True)
class SendResult:
    """The outcome of one object: `ok`, and a message when the PACS refused or warned."""

    sop_instance_uid: str
    sop_class_uid: str
    ok: bool
    message: str = ""


def _prepared(ds):
    """`ds` as a whole Part 10 object: preamble and file meta group (STOW-RS carries files, and a
    server may keep the bytes as sent; C-STORE needs the transfer syntax). What is missing is added
    on a copy, the transfer syntax being Explicit VR Little Endian; the caller's object is left alone."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    for keyword in ("SOPClassUID", "SOPInstanceUID"):
        if not str(ds.get(keyword, "")).strip():
            raise ValueError(f"send_datasets: a dataset has no {keyword}")
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID") and getattr(ds, "preamble", None):
        return ds
    out = ds.copy()
    out.preamble = b"\x00" * 128
    out.file_meta = FileMetaDataset(meta) if meta is not None else FileMetaDataset()
    out.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    out.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if not out.file_meta.get("TransferSyntaxUID"):
        out.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return out


def send_datasets(server: PacsServer, datasets: Iterable, *, progress=None, cancel=None) -> list[SendResult]:
    """Store each pydicom Dataset on `server`; one SendResult per dataset, in order.

    An object the PACS refuses is a failed SendResult (the others still go); a server that cannot
    be reached, or refuses our credentials or AE title, is a PacsError. `cancel` stops between
    objects (raising Cancelled); those already sent stay on the PACS."""
    items = [_prepared(ds) for ds in datasets]
    if not items:
        return []
    send = _stow if server.kind == "dicomweb" else _cstore
    return send(server, items, progress, cancel)


def _stow(server: PacsServer, items: list, progress, cancel) -> list[SendResult]:
    import requests

    client = web_client(server)
    results = []
    for i, ds in enumerate(items):
        check_cancel(cancel)
        uid, cls = str(ds.SOPInstanceUID), str(ds.SOPClassUID)
        with web_errors(server, "send"):
            try:
                response = client.store_instances([ds])
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in (401, 403) or status == 0:
                    raise  # the server's, not this object's: web_errors says so
                reason = f" {exc.response.reason}" if exc.response.reason else ""
                results.append(SendResult(uid, cls, False, f"refused (HTTP {status}{reason})"))
            else:
                results.append(_stow_result(uid, cls, response))
        if progress is not None:
            progress(i + 1, len(items), uid)
    return results


def _stow_result(uid: str, cls: str, response) -> SendResult:
    """Read the STOW-RS response dataset: the instance is in ReferencedSOPSequence or in FailedSOPSequence."""
    for item in (response.get("FailedSOPSequence") or []) if response is not None else []:
        if str(item.get("ReferencedSOPInstanceUID", "")) == uid:
            reason = item.get("FailureReason")
            return SendResult(uid, cls, False, f"refused (failure reason {reason})" if reason else "refused")
    warning = response.get("WarningReason") if response is not None else None
    return SendResult(uid, cls, True, f"stored with warning {warning}" if warning else "")


def _cstore(server: PacsServer, items: list, progress, cancel) -> list[SendResult]:
    from pynetdicom import build_context

    syntaxes: dict[str, list[str]] = {}
    for ds in items:
        offered = syntaxes.setdefault(str(ds.SOPClassUID), list(_PLAIN_SYNTAXES))
        ts = str(ds.file_meta.TransferSyntaxUID)
        if ts not in offered:
            offered.insert(0, ts)
    if len(syntaxes) > _MAX_CONTEXTS:
        raise ValueError(f"send_datasets: {len(syntaxes)} SOP classes do not fit one association "
                         f"(at most {_MAX_CONTEXTS})")
    contexts = [build_context(cls, ts) for cls, ts in syntaxes.items()]
    results = []
    with association(server, contexts) as assoc:
        for i, ds in enumerate(items):
            check_cancel(cancel)
            uid, cls = str(ds.SOPInstanceUID), str(ds.SOPClassUID)
            try:
                # pynetdicom converts between the uncompressed syntaxes when the PACS chose another one
                status = assoc.send_c_store(ds)
            except ValueError:  # no accepted context for this SOP class and transfer syntax
                name = getattr(ds.SOPClassUID, "name", "") or cls
                results.append(SendResult(uid, cls, False, f"{server.label} does not accept {name} "
                                          f"({ds.file_meta.TransferSyntaxUID.name})"))
            else:
                results.append(_cstore_result(uid, cls, status))
            if progress is not None:
                progress(i + 1, len(items), uid)
    return results


def _cstore_result(uid: str, cls: str, status) -> SendResult:
    code = getattr(status, "Status", None)
    if code is None:
        return SendResult(uid, cls, False, "no response (the association timed out or was aborted)")
    code = int(code)
    if code == 0x0000:
        return SendResult(uid, cls, True)
    if code in (0xB000, 0xB006, 0xB007):  # coercion of data elements, elements discarded, SOP class mismatch
        return SendResult(uid, cls, True, f"stored with warning (C-STORE status 0x{code:04X})")
    return SendResult(uid, cls, False, f"refused (C-STORE status 0x{code:04X})")
