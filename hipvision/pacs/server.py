"""Which PACS to talk to (`PacsServer`), how the user writes it (`parse_server`), its secret
(`secret_for`), and the one error every PACS operation raises (`PacsError`)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from hipvision.core.jobs import UserFixableError

KINDS = ("dicomweb", "dimse")
DEFAULT_CALLING_AE = "HIPVISION"
KEYRING_SERVICE = "hipvision-pacs"
SECRET_ENV = "HIPVISION_PACS_SECRET"

# An AE title: 1-16 characters of the default repertoire, no backslash, not all spaces (PS3.5 6.2).
_AE_RE = re.compile(r"^[ -\[\]-~]{1,16}$")
_DIMSE_RE = re.compile(r"^(?P<ae>[^@]+)@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d+)$")

log = logging.getLogger(__name__)


class PacsError(UserFixableError):
    """A PACS operation failed for a reason the user can act on (server down, wrong AE title,
    refused credentials, timeout). Its text is one line naming the server. A UserFixableError (a
    RuntimeError) so that the engine shows the text as written and logs no traceback."""


def _check_ae(field: str, value: str) -> None:
    if not isinstance(value, str) or not _AE_RE.match(value) or not value.strip():
        raise ValueError(f"PacsServer.{field}: {value!r} is not an AE title (1-16 printable ASCII characters, "
                         "no backslash)")


@dataclass(frozen=True)
class PacsServer:
    """One PACS endpoint. `kind` "dicomweb": `url` is the DICOMweb base URL
    (`http(s)://host:port/dicom-web`), TLS follows its scheme. `kind` "dimse": `host`, `port` and
    `called_ae` (the PACS's AE title); `tls` wraps the association in TLS. `calling_ae` is ours.
    `username` with a secret means HTTP basic auth (DICOMweb) or a DIMSE user identity; a
    secret without a username is a bearer token. The secret itself is never a field: it lives in
    the OS keyring (see `secret_for`) so that a server can be saved, logged and shown freely."""

    kind: str
    url: str = ""
    host: str = ""
    port: int = 0
    called_ae: str = ""
    calling_ae: str = DEFAULT_CALLING_AE
    tls: bool = False
    username: str = ""
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"PacsServer.kind: expected one of {KINDS}, got {self.kind!r}")
        _check_ae("calling_ae", self.calling_ae)
        if not (isinstance(self.timeout_s, (int, float)) and 0 < self.timeout_s <= 3600):
            raise ValueError(f"PacsServer.timeout_s: expected 0 < seconds <= 3600, got {self.timeout_s!r}")
        if not isinstance(self.username, str) or any(c in self.username for c in ":\r\n"):
            raise ValueError(f"PacsServer.username: {self.username!r} may not contain ':' or line breaks")
        if self.kind == "dicomweb":
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"PacsServer.url: expected http(s)://host:port/dicom-web, got {self.url!r}")
            try:
                parts.port  # noqa: B018 - raises ValueError on a port out of range
            except ValueError:
                raise ValueError(f"PacsServer.url: bad port in {self.url!r}") from None
            if self.tls != (parts.scheme == "https"):
                raise ValueError(f"PacsServer.tls: {self.tls} does not match the scheme of {self.url!r}")
        else:
            if not self.host or any(c.isspace() for c in self.host):
                raise ValueError(f"PacsServer.host: expected a host name or address, got {self.host!r}")
            if not (isinstance(self.port, int) and 1 <= self.port <= 65535):
                raise ValueError(f"PacsServer.port: expected 1..65535, got {self.port!r}")
            _check_ae("called_ae", self.called_ae)

    @property
    def label(self) -> str:
        """How messages and the keyring name the server: the URL, or AET@host:port."""
        if self.kind == "dicomweb":
            return self.url.rstrip("/")
        return f"{self.called_ae}@{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.label


def parse_server(text: str, *, calling_ae: str = DEFAULT_CALLING_AE, username: str = "", tls: bool = False,
                 timeout_s: float = 30.0) -> PacsServer:
    """`http(s)://host:port/dicom-web` (DICOMweb) or `AET@host:port` (DIMSE) as a PacsServer.
    `tls` applies to DIMSE only; a DICOMweb URL says it with https."""
    text = (text or "").strip()
    if re.match(r"^https?://", text, re.IGNORECASE):
        scheme = text.split(":", 1)[0].lower()
        return PacsServer(kind="dicomweb", url=text, calling_ae=calling_ae, tls=scheme == "https",
                          username=username, timeout_s=timeout_s)
    m = _DIMSE_RE.match(text)
    if not m:
        raise ValueError(f"server {text!r}: expected a DICOMweb URL (http(s)://host:port/dicom-web) or AET@host:port")
    host = m["host"].strip("[]")
    return PacsServer(kind="dimse", host=host, port=int(m["port"]), called_ae=m["ae"], calling_ae=calling_ae,
                      tls=tls, username=username, timeout_s=timeout_s)


def keyring_name(server: PacsServer) -> str:
    """The keyring entry's user name: one secret per (user, server)."""
    return f"{server.username}@{server.label}" if server.username else server.label


def secret_for(server: PacsServer) -> str | None:
    """The password (with a username) or bearer token (without) for `server`, or None.

    HIPVISION_PACS_SECRET wins when set (CI, scripts, a headless box without a keyring); else the
    OS keyring, service "hipvision-pacs". A machine without a usable keyring backend, or without
    the keyring package, simply has no secret: the server then answers 401 and says so."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_name(server))
    except KeyringError as exc:  # no backend (fail.Keyring), a locked one: not an error of the PACS
        log.info("no PACS secret from the keyring: %s", type(exc).__name__)  # never the secret itself
        return None
    except Exception as exc:  # noqa: BLE001 - a broken D-Bus session must not end a query
        log.info("keyring unavailable: %s", type(exc).__name__)
        return None


def store_secret(server: PacsServer, secret: str | None) -> None:
    """Keep (or, with None/"", forget) the secret of `server` in the OS keyring; never elsewhere."""
    try:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError
    except ImportError:
        raise PacsError("cannot store the PACS secret: the keyring package is not installed") from None
    try:
        if secret:
            keyring.set_password(KEYRING_SERVICE, keyring_name(server), secret)
        else:
            try:
                keyring.delete_password(KEYRING_SERVICE, keyring_name(server))
            except PasswordDeleteError:
                pass
    except KeyringError as exc:
        raise PacsError(f"cannot store the secret of {server.label}: no usable OS keyring ({exc})") from None
