"""Throwaway TLS certificates for the test PACS: a clinic CA and a server certificate it signed
for 127.0.0.1/localhost (the `cryptography` package; a test that needs them is skipped without it)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate a user would give HipVision (REQUESTS_CA_BUNDLE)
    cert: Path  # the server's certificate
    key: Path  # its private key
    key_and_cert: Path  # both in one PEM, as Orthanc's SslCertificate wants


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path, ca_name: str = "HipVision test clinic CA") -> Certificates:
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_cert = (x509.CertificateBuilder().subject_name(_name(ca_name)).issuer_name(_name(ca_name))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    out = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "server-both.pem")
    out.ca.write_bytes(ca_cert.public_bytes(pem))
    out.cert.write_bytes(cert.public_bytes(pem))
    out.key.write_bytes(key_pem)
    out.key_and_cert.write_bytes(key_pem + cert.public_bytes(pem))
    return out


class TlsProxy:
    """HTTPS in front of a plain HTTP server, as a clinic puts nginx in front of Orthanc: TLS with
    `cert`/`key` on a free loopback port, every connection piped to 127.0.0.1:`target`. (The test
    Orthanc cannot serve HTTPS itself: Debian 12's Orthanc 1.10.1 dies with SIGSEGV in the TLS
    handshake of its civetweb, whatever the certificate.)"""

    def __init__(self, cert: Path, key: Path, target: int) -> None:
        import socket
        import ssl
        import threading

        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import threading

        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._pipe, args=(raw,), daemon=True).start()

    def _pipe(self, raw) -> None:
        import select
        import socket
        import ssl

        try:
            tls = self.context.wrap_socket(raw, server_side=True)  # a client that distrusts us ends here
        except (ssl.SSLError, OSError):
            raw.close()
            return
        try:
            back = socket.create_connection(("127.0.0.1", self.target), timeout=10)
        except OSError:
            tls.close()
            return
        with tls, back:
            try:
                while True:
                    ready, _, _ = select.select([tls, back], [], [], 60)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (back if s is tls else tls).sendall(data)
                        while s is tls and tls.pending():  # bytes OpenSSL already decrypted: select won't see them
                            back.sendall(tls.recv(65536))
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
