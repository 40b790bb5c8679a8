"""TLS and bearer tokens against real servers: an Orthanc serving only HTTPS and DICOM TLS with a
certificate from a throwaway clinic CA (given as REQUESTS_CA_BUNDLE), and a tiny HTTP server that
records what a bearer-token client sends."""

import http.server
import json
import logging
import threading

import numpy as np
import pydicom
import pytest

from hipvision.cli import main
from hipvision.pacs import PacsError, parse_server
from hipvision.pacs.query import StudyQuery, query_studies
from hipvision.pacs.retrieve import RetrieveConfig, retrieve_study
from tests.pacs.certs import make_certificates
from tests.pacs.conftest import AET, STUDY_BELLA_CR, USER, pixels

TOKEN = "eyJhbGciOi.test-token.never-logged"


def _https(orthanc_tls) -> str:
    return orthanc_tls.dicomweb


def _dimse_tls(orthanc_tls) -> str:
    return f"{AET}@127.0.0.1:{orthanc_tls.dicom_port}"


@pytest.fixture
def trusted(orthanc_tls, monkeypatch, secret):
    """The user has given HipVision the clinic's CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(orthanc_tls.ca))
    return orthanc_tls


def test_https_query_and_retrieve_with_the_clinic_ca(trusted, tmp_path, capsys):
    assert main(["pacs", "query", "--server", _https(trusted), "--user", USER, "--patient-id", "P2", "--json"]) == 0
    assert [s["study_uid"] for s in json.loads(capsys.readouterr().out)] == [STUDY_BELLA_CR]
    into = tmp_path / "study"
    assert main(["pacs", "retrieve", "--server", _https(trusted), "--user", USER, "--study", STUDY_BELLA_CR,
                 "--into", str(into), "--quiet"]) == 0
    (uid,) = trusted.uploaded[STUDY_BELLA_CR]
    np.testing.assert_array_equal(pydicom.dcmread(into / f"{uid}.dcm").pixel_array, pixels(5))


def test_dimse_tls_query_and_retrieve_with_the_clinic_ca(trusted, tmp_path, capsys):
    assert main(["pacs", "query", "--server", _dimse_tls(trusted), "--tls", "--patient-id", "P2", "--json"]) == 0
    assert [s["study_uid"] for s in json.loads(capsys.readouterr().out)] == [STUDY_BELLA_CR]
    into = tmp_path / "study"
    report = retrieve_study(RetrieveConfig(parse_server(_dimse_tls(trusted), tls=True), STUDY_BELLA_CR, into))
    (uid,) = trusted.uploaded[STUDY_BELLA_CR]
    assert report.saved == (into / f"{uid}.dcm",)
    np.testing.assert_array_equal(pydicom.dcmread(into / f"{uid}.dcm").pixel_array, pixels(5))


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_untrusted_certificate_is_one_line(orthanc_tls, protocol, monkeypatch, secret, tmp_path, capsys):
    other = make_certificates(tmp_path / "other", ca_name="Some other CA")
    text = _https(orthanc_tls) if protocol == "dicomweb" else _dimse_tls(orthanc_tls)
    flags = ["--user", USER] if protocol == "dicomweb" else ["--tls"]
    for ca in (None, other.ca):  # no CA given (the default stores), then the wrong one
        if ca is None:
            monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        else:
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
        assert main(["pacs", "query", "--server", text, *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hipvision pacs: error: cannot reach {text}: its TLS certificate is not trusted (")
        assert err.endswith("); give the CA certificate that signed it in REQUESTS_CA_BUNDLE\n")
        assert err.count("\n") == 1


def test_missing_ca_file_is_named(orthanc_tls, monkeypatch, tmp_path):
    missing = tmp_path / "clinic-ca.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(missing))
    for text, tls in ((_https(orthanc_tls), False), (_dimse_tls(orthanc_tls), True)):
        with pytest.raises(PacsError) as err:
            query_studies(parse_server(text, tls=tls), StudyQuery())
        assert str(err.value) == f"REQUESTS_CA_BUNDLE={missing}: no such CA certificate file or folder"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A DICOMweb server that knows no studies and remembers each request's Authorization header;
    with `refuse` set it answers 401, as a server does to an expired token."""

    seen: list[str | None] = []
    refuse = False

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).seen.append(self.headers.get("Authorization"))
        body = b"[]"
        self.send_response(401 if self.refuse else 200)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # stderr is the test's output
        pass


@pytest.fixture
def recorder():
    _Recorder.seen, _Recorder.refuse = [], False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/dicom-web", _Recorder
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_bearer_token_is_sent_and_never_logged(recorder, monkeypatch, caplog, capsys):
    url, handler = recorder
    monkeypatch.setenv("HIPVISION_PACS_SECRET", TOKEN)  # a secret without --user: a bearer token
    with caplog.at_level(logging.DEBUG):
        assert main(["pacs", "query", "--server", url]) == 0
    assert handler.seen and handler.seen == [f"Bearer {TOKEN}"] * len(handler.seen)
    out = capsys.readouterr()
    assert "no matching studies" in out.out
    handler.refuse = True
    with caplog.at_level(logging.DEBUG):
        assert main(["pacs", "query", "--server", url]) == 2
    out2 = capsys.readouterr()
    assert out2.err == f"hipvision pacs: error: {url} refused the credentials (HTTP 401); check the bearer token\n"
    assert caplog.records and TOKEN not in caplog.text
    assert TOKEN not in out.out + out.err + out2.out + out2.err
