"""A real PACS for the tests: Orthanc with its DICOMweb plugin on free loopback ports, a temporary
storage folder, one registered user; a handful of tiny studies uploaded through its REST API."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import numpy as np
import pytest
from keyring.backend import KeyringBackend

ORTHANC = "/usr/sbin/Orthanc"
PLUGINS = "/usr/share/orthanc/plugins"
USER, PASSWORD = "hip", "s3cret-for-tests"
AET = "ORTHANC"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    http_port: int
    dicom_port: int
    folder: Path
    move_port: int = 0  # where Orthanc sends a C-MOVE for HIPVISION (and MOVER): our storage SCP listens there
    uploaded: dict[str, list[str]] = field(default_factory=dict)  # study UID -> SOP instance UIDs
    ca: Path | None = None  # the CA that signed its certificate: HTTPS and DICOM TLS

    @property
    def verify(self) -> str | bool:
        return str(self.ca) if self.ca else True

    @property
    def rest(self) -> str:
        return f"{'https' if self.ca else 'http'}://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.rest}/dicom-web"

    @property
    def dimse(self) -> str:
        return f"{AET}@127.0.0.1:{self.dicom_port}"

    def get(self, path: str):
        import requests

        r = requests.get(self.rest + path, auth=(USER, PASSWORD), timeout=10, verify=self.verify)
        r.raise_for_status()
        return r

    def upload(self, data: bytes) -> dict:
        import requests

        r = requests.post(self.rest + "/instances", data=data, auth=(USER, PASSWORD), timeout=10, verify=self.verify)
        r.raise_for_status()
        return r.json()

    def instance_uids(self, study_uid: str) -> set[str]:
        """SOP instance UIDs of a study as Orthanc holds it (read back through its own REST API)."""
        import requests

        r = requests.post(self.rest + "/tools/find", auth=(USER, PASSWORD), timeout=10, verify=self.verify,
                          json={"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True})
        r.raise_for_status()
        return {row["MainDicomTags"]["SOPInstanceUID"] for row in r.json()}

    def instance_file(self, sop_uid: str) -> bytes:
        import requests

        r = requests.post(self.rest + "/tools/lookup", data=sop_uid, auth=(USER, PASSWORD), timeout=10,
                          verify=self.verify)
        r.raise_for_status()
        (hit,) = [h for h in r.json() if h["Type"] == "Instance"]
        return self.get(f"/instances/{hit['ID']}/file").content


def _config(folder: Path, http_port: int, dicom_port: int, move_port: int) -> dict:
    return {
        "Name": "hipvision-tests",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": AET,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "Plugins": [PLUGINS],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        # Our AE may query and retrieve. C-GET sends back on the same association; a C-MOVE goes to the
        # AE's port, where the test's retrieve listens. MOVER is a PACS policy without C-GET (C-MOVE only).
        "DicomModalities": {"hipvision": ["HIPVISION", "127.0.0.1", move_port],
                            "mover": {"AET": "MOVER", "Host": "127.0.0.1", "Port": move_port, "AllowGet": False}},
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "StorageCompression": False,
        "ConcurrentJobs": 1,
        "SaveJobs": False,
    }


def _wait_up(proc: subprocess.Popen, url: str, log: Path, seconds: float = 30.0, verify: str | bool = True) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/system", auth=(USER, PASSWORD), timeout=1, verify=verify).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Orthanc did not answer within {seconds} s: {log.read_text()[-2000:]}")


@contextmanager
def _running(folder: Path, config: dict, server: Orthanc):
    """Orthanc started on `config`, answering, with the test studies uploaded; stopped on exit."""
    if not os.path.exists(ORTHANC):
        pytest.skip(f"{ORTHANC} is missing (apt-get install orthanc orthanc-dicomweb)")
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    log = folder / "orthanc.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([ORTHANC, str(folder / "config.json")], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_up(proc, server.rest, log, verify=server.verify)
        _upload_studies(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder / "storage", ignore_errors=True)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orthanc")
    http_port, dicom_port, move_port = free_port(), free_port(), free_port()
    with _running(folder, _config(folder, http_port, dicom_port, move_port),
                  Orthanc(http_port, dicom_port, folder, move_port)) as server:
        yield server


@pytest.fixture(scope="session")
def orthanc_tls(tmp_path_factory):
    """A second Orthanc reached only over TLS, its certificates signed by a throwaway clinic CA
    (`.ca`): DICOM TLS by Orthanc itself (no client certificate asked: HipVision authenticates with
    its user), HTTPS by a TLS proxy in front of its loopback HTTP port (see TlsProxy for why)."""
    from tests.pacs.certs import TlsProxy, make_certificates

    folder = tmp_path_factory.mktemp("orthanc-tls")
    certs = make_certificates(folder / "certs")
    http_port, dicom_port = free_port(), free_port()
    config = _config(folder, http_port, dicom_port, free_port())
    config.update({
        "DicomTlsEnabled": True, "DicomTlsCertificate": str(certs.cert), "DicomTlsPrivateKey": str(certs.key),
        "DicomTlsTrustedCertificates": str(certs.ca), "DicomTlsRemoteCertificateRequired": False,
    })
    proxy = TlsProxy(certs.cert, certs.key, http_port)
    try:
        with _running(folder, config, Orthanc(proxy.port, dicom_port, folder, ca=certs.ca)) as server:
            yield server
    finally:
        proxy.close()


# --- the studies ------------------------------------------------------------------------------------------------

def pixels(seed: int, shape=(96, 128)) -> np.ndarray:
    """A tiny 12-bit image, different per seed (pixel equality after a round trip means something)."""
    return np.random.default_rng(seed).integers(0, 4096, size=shape, dtype=np.uint16)


def retrieve_rex_checked(orthanc, config) -> None:
    """Retrieve Rex's DX study with `config` and check what any retrieve path must give: one
    file per image named by its SOP Instance UID, each announced and counted, the study's SR named
    with its reason, progress to the end, and the uploaded pixels."""
    import pydicom

    from hipvision.pacs.retrieve import retrieve_study

    arrived, steps = [], []
    report = retrieve_study(config, progress=lambda done, total, msg: steps.append((done, total)),
                            on_file=arrived.append)
    into, images = config.into, orthanc.uploaded[STUDY_REX_DX]
    assert sorted(p.name for p in into.iterdir()) == sorted(f"{uid}.dcm" for uid in images)
    assert sorted(report.saved) == sorted(arrived) == sorted(into / f"{uid}.dcm" for uid in images)
    # The SR of the study is not written, and is named with the reason.
    (sr_uid,) = orthanc.uploaded["sr"]
    assert report.skipped == ((sr_uid, "Basic Text SR Storage: no pixel data"),)
    assert steps and steps[-1] == (4, 4)
    for seed, uid in zip((1, 2, 3), images):
        ds = pydicom.dcmread(into / f"{uid}.dcm")
        assert ds.SOPInstanceUID == uid and ds.StudyInstanceUID == STUDY_REX_DX and ds.PatientID == "P1"
        np.testing.assert_array_equal(ds.pixel_array, pixels(seed))


def image_bytes(tmp: Path, seed: int, *, study: str, series: str, patient: tuple[str, str], date: str,
                modality: str, accession: str, number: int = 1) -> bytes:
    from hipvision.core.dicom_write import write_dicom

    path = tmp / f"img{seed}.dcm"
    write_dicom(path, pixels(seed), spacing=(0.15, 0.15), patient_name=patient[0], patient_id=patient[1],
                modality=modality, bits_stored=12,
                extra={"StudyInstanceUID": study, "SeriesInstanceUID": series, "StudyDate": date,
                       "AccessionNumber": accession, "InstanceNumber": number, "StudyDescription": "Hips VD"})
    return path.read_bytes()


def sr_dataset(study: str, patient: tuple[str, str], *, accession: str = "", sop_class=None):
    """A minimal Basic Text SR in `study`: an object without pixel data, as a PACS study often holds.
    It repeats the study's attributes (Orthanc keeps the study tags of the latest instance)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import BasicTextSRStorage, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class or BasicTextSRStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID = patient
    ds.StudyDate = "20240105"
    ds.AccessionNumber = accession
    ds.StudyDescription = "Hips VD"
    ds.Modality = "SR"
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    return ds


def dataset_bytes(ds) -> bytes:
    from io import BytesIO

    import pydicom

    buf = BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


# Study UIDs under the test root 1.2.826.0.1.3680043.10.1234 (made up, fixed so tests can name them).
REX = ("Rex^Dog", "P1")
BELLA = ("Bella^Cat", "P2")
STUDY_REX_DX = "1.2.826.0.1.3680043.10.1234.1"   # DX, 3 images in 2 series + one SR
STUDY_REX_MR = "1.2.826.0.1.3680043.10.1234.2"   # MR: filtered out by the default CR/DX
STUDY_BELLA_CR = "1.2.826.0.1.3680043.10.1234.3"  # CR, 1 image


def _upload_studies(server: Orthanc) -> None:
    tmp = server.folder / "upload"
    tmp.mkdir()
    plan = [
        (1, STUDY_REX_DX, STUDY_REX_DX + ".1", REX, "20240105", "DX", "ACC1", 1),
        (2, STUDY_REX_DX, STUDY_REX_DX + ".1", REX, "20240105", "DX", "ACC1", 2),
        (3, STUDY_REX_DX, STUDY_REX_DX + ".2", REX, "20240105", "DX", "ACC1", 1),
        (4, STUDY_REX_MR, STUDY_REX_MR + ".1", REX, "20240210", "MR", "ACC2", 1),
        (5, STUDY_BELLA_CR, STUDY_BELLA_CR + ".1", BELLA, "20240320", "CR", "ACC3", 1),
    ]
    for seed, study, series, patient, date, modality, accession, number in plan:
        data = image_bytes(tmp, seed, study=study, series=series, patient=patient, date=date, modality=modality,
                           accession=accession, number=number)
        server.upload(data)
        server.uploaded.setdefault(study, []).append(_sop_uid(data))
    sr = sr_dataset(STUDY_REX_DX, REX, accession="ACC1")
    server.upload(dataset_bytes(sr))
    server.uploaded["sr"] = [sr.SOPInstanceUID]


def _sop_uid(data: bytes) -> str:
    from io import BytesIO

    import pydicom

    return pydicom.dcmread(BytesIO(data), stop_before_pixels=True).SOPInstanceUID


@pytest.fixture
def secret(monkeypatch):
    """The registered user's password, as a headless run gives it (never in a file or the database)."""
    monkeypatch.setenv("HIPVISION_PACS_SECRET", PASSWORD)
    return PASSWORD


def server_of(orthanc: Orthanc, protocol: str):
    """The test PACS as a user configures it: the DICOMweb URL with the user name, or AET@host:port."""
    from hipvision.pacs import parse_server

    if protocol == "dicomweb":
        return parse_server(orthanc.dicomweb, username=USER)
    return parse_server(orthanc.dimse)


def cli_server(orthanc: Orthanc, protocol: str) -> list[str]:
    return ["--server", orthanc.dicomweb, "--user", USER] if protocol == "dicomweb" else ["--server", orthanc.dimse]


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in: what Preferences would store, held in memory."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.entries = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


@pytest.fixture
def use_keyring(monkeypatch):
    """Swap the process's keyring backend for the test (and no HIPVISION_PACS_SECRET)."""
    monkeypatch.delenv("HIPVISION_PACS_SECRET", raising=False)
    before = keyring.get_keyring()

    def use(backend):
        keyring.set_keyring(backend)
        return backend

    yield use
    keyring.set_keyring(before)
