"""Opening a connection to a PACS and turning each way it can fail into one PacsError line.

DICOMweb: a `dicomweb_client.DICOMwebClient` on a requests session carrying the credentials.
DIMSE: a pynetdicom association. Both libraries are imported here, inside the functions.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hipvision.pacs.server import PacsError, PacsServer, secret_for


def _reason(exc: BaseException) -> str:
    """The cause of a failed connection in a few plain words."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:  # requests wraps urllib3 wraps the socket error: look through the chain and args
        e = stack.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "unknown host"
        if isinstance(e, ssl.SSLCertVerificationError):
            return (f"its TLS certificate is not trusted ({e.verify_message or e.reason}); give the CA certificate "
                    f"that signed it in {CA_ENV}")
        if isinstance(e, ssl.SSLError):
            return f"TLS failed ({e.reason or e})"
        stack.extend([e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))])
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "unknown host"
    return type(exc).__name__


# A clinic's own CA: the variable requests honours for DICOMweb, applied to DIMSE TLS as well, so one
# setting serves both protocols. Without it: requests' CA bundle (certifi) and the system's store for DIMSE.
CA_ENV = "REQUESTS_CA_BUNDLE"


def ca_file() -> str | None:
    """The CA bundle named by REQUESTS_CA_BUNDLE, or None; a missing file is a PacsError naming it
    (requests would raise a bare OSError from deep inside)."""
    path = os.environ.get(CA_ENV, "").strip()
    if not path:
        return None
    if not os.path.exists(path):
        raise PacsError(f"{CA_ENV}={path}: no such CA certificate file or folder")
    return path


def tls_context() -> ssl.SSLContext:
    """A client TLS context that checks the server's certificate and host name against the system's
    CAs plus the one in REQUESTS_CA_BUNDLE."""
    context = ssl.create_default_context()
    path = ca_file()
    if path:
        try:
            if os.path.isdir(path):
                context.load_verify_locations(capath=path)
            else:
                context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise PacsError(f"{CA_ENV}={path}: not a PEM CA certificate file ({exc})") from None
    return context


# --- DICOMweb ---------------------------------------------------------------------------------------------------

def web_client(server: PacsServer):
    """A DICOMwebClient for `server` with its credentials; no retries (a down server should say so
    at once, not after a minute of back-off)."""
    import requests
    from dicomweb_client.api import DICOMwebClient
    from dicomweb_client.uri import build_query_string

    class Client(DICOMwebClient):
        # Wildcards travel as written: dicomweb-client percent-encodes `*` and `?`, which PS3.18
        # allows, but Orthanc (and others) then match a literal "%2A" and a prefix search finds nothing.
        def _http_get(self, url, params=None, headers=None, stream=False):
            query = build_query_string(params).replace("%2A", "*").replace("%3F", "?")
            return super()._http_get(url + query, None, headers, stream)

    ca_file()  # a wrong REQUESTS_CA_BUNDLE is one clear line, before any request
    session = requests.Session()
    secret = secret_for(server)
    if secret and server.username:
        session.auth = (server.username, secret)
    elif secret:
        session.headers["Authorization"] = f"Bearer {secret}"
    client = Client(url=server.url.rstrip("/"), session=session,
                            timeout=(min(10.0, server.timeout_s), server.timeout_s))
    client.set_http_retry_params(retry=False)
    return client


PAGE = 200


def search_all(search: Callable[[int, int], list], *, key: Callable[[dict], str], most: int = 5000) -> list[dict]:
    """Every row of a QIDO search, paged by hand: `search(limit, offset)` returns one page. (dicomweb-
    client's get_remaining asks until a page comes back empty, and a server that ignores `offset` --
    Orthanc does -- answers the same page for ever.) Stops on a short page or one with nothing new
    (by `key`), or after `most` rows."""
    rows: dict[str, dict] = {}
    while len(rows) < most:
        page = search(PAGE, len(rows)) or []
        new = 0
        for row in page:
            k = key(row)
            if k and k not in rows:
                rows[k] = row
                new += 1
        if len(page) < PAGE or new == 0:
            break
    return list(rows.values())


@contextmanager
def web_errors(server: PacsServer, what: str) -> Iterator[None]:
    """Map requests' failures while doing `what` (e.g. "query") to one PacsError line."""
    import requests

    try:
        yield
    except requests.HTTPError as exc:
        response = exc.response
        status = response.status_code if response is not None else 0
        if status in (401, 403):
            if secret_for(server) is None:
                detail = "no credentials were given"
            else:
                detail = "check the user name and secret" if server.username else "check the bearer token"
            raise PacsError(f"{server.label} refused the credentials (HTTP {status}); {detail}") from None
        reason = f" {response.reason}" if response is not None and response.reason else ""
        raise PacsError(f"{server.label}: {what} failed (HTTP {status}{reason})") from None
    except requests.Timeout:
        raise PacsError(f"{server.label}: no answer within {server.timeout_s:g} s ({what})") from None
    except requests.ConnectionError as exc:
        raise PacsError(f"cannot reach {server.label}: {_reason(exc)}") from None
    except requests.RequestException as exc:
        raise PacsError(f"{server.label}: {what} failed ({type(exc).__name__})") from None


# --- DIMSE ------------------------------------------------------------------------------------------------------

def _probe(server: PacsServer, context: ssl.SSLContext | None) -> None:
    """Connect once by TCP (and, with `context`, shake hands by TLS) so that a down server, a wrong
    port or an untrusted certificate reads as such: pynetdicom only logs why an association could
    not start."""
    try:
        with socket.create_connection((server.host, server.port), timeout=min(10.0, server.timeout_s)) as sock:
            if context is not None:
                with context.wrap_socket(sock, server_hostname=server.host):
                    pass
    except TimeoutError:
        raise PacsError(f"cannot reach {server.label}: no answer within {min(10.0, server.timeout_s):g} s") from None
    except OSError as exc:
        raise PacsError(f"cannot reach {server.label}: {_reason(exc)}") from None


def _rejection(server: PacsServer, assoc) -> str:
    primitive = getattr(assoc.acceptor, "primitive", None)
    source, diagnostic = getattr(primitive, "result_source", None), getattr(primitive, "diagnostic", None)
    if source == 1 and diagnostic == 7:
        why = f"called AE title '{server.called_ae}' not recognised"
    elif source == 1 and diagnostic == 3:
        why = f"calling AE title '{server.calling_ae}' not recognised (register it on the PACS)"
    else:
        why = primitive.reason_str.lower() if primitive is not None else "no reason given"
    return f"{server.label} rejected the association: {why}"


@contextmanager
def _quiet_pynetdicom() -> Iterator[None]:
    """pynetdicom logs every failure at ERROR; each becomes our one PacsError line instead of a
    stack of log lines above it."""
    logger = logging.getLogger("pynetdicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def association(server: PacsServer, contexts, *, roles=(), evt_handlers=None) -> Iterator:
    """An established pynetdicom association with `server` requesting `contexts`
    (pynetdicom PresentationContexts); `roles` are SCP/SCU role selection items (C-GET). Released
    on exit, aborted if the body raises."""
    from pynetdicom import AE
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    context = tls_context() if server.tls else None
    _probe(server, context)
    ae = AE(ae_title=server.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = server.timeout_s
    ae.connection_timeout = min(10.0, server.timeout_s)
    ae.requested_contexts = list(contexts)
    ext_neg = list(roles)
    secret = secret_for(server)
    if secret:
        identity = UserIdentityNegotiation()
        if server.username:
            identity.user_identity_type = 2  # username and passcode
            identity.primary_field = server.username.encode()
            identity.secondary_field = secret.encode()
        else:
            identity.user_identity_type = 5  # JSON web token
            identity.primary_field = secret.encode()
        ext_neg.append(identity)
    tls_args = (context, server.host) if context is not None else None
    with _quiet_pynetdicom():
        started = time.monotonic()
        try:
            assoc = ae.associate(server.host, server.port, ae_title=server.called_ae, ext_neg=ext_neg or None,
                                 evt_handlers=evt_handlers or None, tls_args=tls_args)
        except (OSError, ssl.SSLError) as exc:
            raise PacsError(f"cannot reach {server.label}: {_reason(exc)}") from None
        primitive = getattr(assoc.acceptor, "primitive", None)
        # A rejection followed at once by the PACS closing the socket can read as an abort (a race
        # seen on a loaded CI machine): the A-ASSOCIATE-RJ it sent still says why.
        if assoc.is_rejected or getattr(primitive, "result", None) in (1, 2):
            raise PacsError(_rejection(server, assoc))
        if not assoc.is_established:
            answered = getattr(assoc.acceptor, "primitive", None) is not None
            if not answered and time.monotonic() - started >= 0.9 * server.timeout_s:
                # pynetdicom aborts by itself when the ACSE timeout passes without an answer
                raise PacsError(f"{server.label}: no answer to the association request within "
                                f"{server.timeout_s:g} s")
            if assoc.is_aborted:
                raise PacsError(f"{server.label} aborted the association (it accepts none of the requested "
                                "services, or refused our credentials)")
            raise PacsError(f"{server.label}: no association within {server.timeout_s:g} s")
        try:
            yield assoc
        except BaseException:
            if assoc.is_established:
                assoc.abort()
            # Wait for pynetdicom's thread: a C-STORE handler still writing must finish (atomically)
            # before the caller looks at the folder.
            assoc.join(timeout=server.timeout_s)
            raise
        if assoc.is_established:
            assoc.release()


def check_status(server: PacsServer, status, what: str) -> int:
    """The status code of a DIMSE response; a missing one (timeout, abort) is a PacsError."""
    code = getattr(status, "Status", None)
    if code is None:
        raise PacsError(f"{server.label}: {what}: no response (the association timed out or was aborted; does the "
                        f"PACS accept requests from AE title '{server.calling_ae}'?)")
    return int(code)
