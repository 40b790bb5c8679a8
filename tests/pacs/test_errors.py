"""The bad cases a clinic meets: server down, wrong AE title, refused credentials, a silent server.
Each is one PacsError line naming the server (one CLI line, exit 2), and nothing is left on disk."""

import logging
import socket

import pytest
from keyring.backends.fail import Keyring as NoKeyring

from hipvision.cli import main
from hipvision.pacs import PacsError, parse_server, secret_for
from hipvision.pacs.query import StudyQuery, query_studies
from hipvision.pacs.retrieve import RetrieveConfig, retrieve_study
from hipvision.pacs.send import send_datasets
from hipvision.pacs.server import store_secret
from tests.pacs.conftest import (
    PASSWORD,
    STUDY_BELLA_CR,
    STUDY_REX_DX,
    USER,
    MemoryKeyring,
    free_port,
    server_of,
    sr_dataset,
)


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_server_down(protocol, tmp_path, capsys):
    port = free_port()  # nothing listens there
    text = f"http://127.0.0.1:{port}/dicom-web" if protocol == "dicomweb" else f"ORTHANC@127.0.0.1:{port}"
    expected = f"cannot reach {text}: connection refused"
    with pytest.raises(PacsError) as err:
        query_studies(parse_server(text), StudyQuery())
    assert str(err.value) == expected
    into = tmp_path / "study"
    assert main(["pacs", "retrieve", "--server", text, "--study", STUDY_REX_DX, "--into", str(into), "--quiet"]) == 2
    assert capsys.readouterr().err == f"hipvision pacs: error: {expected}\n"  # one line, no traceback
    assert not into.exists()  # nothing half-made in the project


def test_wrong_called_ae_title(orthanc, capsys):
    text = f"WRONG@127.0.0.1:{orthanc.dicom_port}"
    assert main(["pacs", "query", "--server", text]) == 2
    assert capsys.readouterr().err == (f"hipvision pacs: error: {text} rejected the association: "
                                       "called AE title 'WRONG' not recognised\n")
    with pytest.raises(PacsError, match="called AE title 'WRONG' not recognised"):
        send_datasets(parse_server(text), [sr_dataset(STUDY_BELLA_CR, ("X", "X"))])


def test_401_without_credentials(orthanc, use_keyring, tmp_path, capsys):
    use_keyring(NoKeyring())  # a machine without a keyring backend: no secret, no crash
    server = parse_server(orthanc.dicomweb, username=USER)
    assert secret_for(server) is None
    with pytest.raises(PacsError) as err:
        query_studies(server, StudyQuery())
    assert str(err.value) == (f"{orthanc.dicomweb} refused the credentials (HTTP 401); "
                              "no credentials were given")
    into = tmp_path / "study"
    with pytest.raises(PacsError, match=r"refused the credentials \(HTTP 401\)"):
        retrieve_study(RetrieveConfig(server, STUDY_REX_DX, into))
    assert not into.exists()


def test_401_with_wrong_credentials(orthanc, monkeypatch, capsys):
    monkeypatch.setenv("HIPVISION_PACS_SECRET", "not-the-password")
    assert main(["pacs", "query", "--server", orthanc.dicomweb, "--user", USER]) == 2
    assert capsys.readouterr().err == (f"hipvision pacs: error: {orthanc.dicomweb} refused the credentials "
                                       "(HTTP 401); check the user name and secret\n")


def test_secret_from_the_keyring_and_never_logged(orthanc, use_keyring, caplog):
    memory = use_keyring(MemoryKeyring())
    server = parse_server(orthanc.dicomweb, username=USER)
    store_secret(server, PASSWORD)  # what Preferences does
    assert memory.entries == {("hipvision-pacs", f"{USER}@{orthanc.dicomweb}"): PASSWORD}
    with caplog.at_level(logging.DEBUG):
        found = query_studies(server, StudyQuery(patient_id="P2"))
    assert [r.study_uid for r in found] == [STUDY_BELLA_CR]
    assert caplog.records and PASSWORD not in caplog.text
    store_secret(server, None)
    assert memory.entries == {}


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_silent_server_times_out(protocol):
    with socket.socket() as listener:  # accepts the TCP connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        text = f"http://127.0.0.1:{port}/dicom-web" if protocol == "dicomweb" else f"PACS@127.0.0.1:{port}"
        with pytest.raises(PacsError) as err:
            query_studies(parse_server(text, timeout_s=0.5), StudyQuery())
    assert str(err.value).startswith(f"{text}: no ") and "within 0.5 s" in str(err.value)


def test_retrieve_of_an_unknown_study(orthanc, secret, tmp_path):
    for protocol in ("dicomweb", "dimse"):
        server = server_of(orthanc, protocol)
        with pytest.raises(PacsError, match=r"study 1\.2\.3\.4 not found"):
            retrieve_study(RetrieveConfig(server, "1.2.3.4", tmp_path / protocol))
        assert not (tmp_path / protocol).exists()


@pytest.mark.parametrize("text, message", [
    ("PACS@host", "expected a DICOMweb URL"),
    ("ftp://host/dicom-web", "expected a DICOMweb URL"),
    ("A\\B@host:104", "not an AE title"),
    ("PACS@host:70000", "expected 1..65535"),
    ("TOO-LONG-AE-TITLE-X@host:104", "not an AE title"),
])
def test_parse_server_refuses_bad_addresses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_server(text)


def test_parse_server_reads_both_forms():
    web = parse_server("https://pacs.clinic:8443/dicom-web/", username="vet")
    assert (web.kind, web.tls, web.label, web.calling_ae) == ("dicomweb", True, "https://pacs.clinic:8443/dicom-web",
                                                              "HIPVISION")
    dimse = parse_server("ORTHANC@10.0.0.5:4242", calling_ae="XRAY1", tls=True)
    assert (dimse.kind, dimse.host, dimse.port, dimse.called_ae, dimse.calling_ae, dimse.tls) == (
        "dimse", "10.0.0.5", 4242, "ORTHANC", "XRAY1", True)
    assert str(dimse) == "ORTHANC@10.0.0.5:4242"
