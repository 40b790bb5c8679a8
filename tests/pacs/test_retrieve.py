"""`retrieve_study` against a real Orthanc over WADO-RS and C-GET: complete files, equal pixels,
non-image objects named, cancel leaving nothing half-written."""

import numpy as np
import pydicom
import pytest

from hipvision.cli import main
from hipvision.core.jobs import Cancelled, CancelToken
from hipvision.core.store import Project
from hipvision.pacs.retrieve import RetrieveConfig, retrieve_study
from tests.pacs.conftest import STUDY_REX_DX, cli_server, pixels, retrieve_rex_checked, server_of

PROTOCOLS = ["dicomweb", "dimse"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retrieve_study_saves_images_and_names_the_rest(orthanc, secret, protocol, tmp_path):
    retrieve_rex_checked(orthanc, RetrieveConfig(server_of(orthanc, protocol), STUDY_REX_DX, tmp_path / "study"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cancel_mid_retrieve_leaves_only_complete_files(orthanc, secret, protocol, tmp_path):
    into = tmp_path / "study"
    cancel = CancelToken()
    arrived = []

    def on_file(path):
        arrived.append(path)
        cancel.set()  # the user presses Cancel as the first image arrives

    with pytest.raises(Cancelled):
        retrieve_study(RetrieveConfig(server_of(orthanc, protocol), STUDY_REX_DX, into), cancel=cancel,
                       on_file=on_file)
    files = sorted(into.iterdir())
    assert arrived and len(files) < len(orthanc.uploaded[STUDY_REX_DX])
    expected = {uid: pixels(seed) for seed, uid in zip((1, 2, 3), orthanc.uploaded[STUDY_REX_DX])}
    for path in files:  # only whole DICOM files: no temporary name, every pixel there
        assert path.suffix == ".dcm"
        np.testing.assert_array_equal(pydicom.dcmread(path).pixel_array, expected[path.stem])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_retrieve_command_fills_and_imports_the_project(orthanc, secret, protocol, tmp_path, capsys):
    into = tmp_path / "Rex 2024-01-05"
    assert main(["pacs", "retrieve", *cli_server(orthanc, protocol), "--study", STUDY_REX_DX,
                 "--into", str(into), "--quiet"]) == 0
    out = capsys.readouterr().out
    (sr_uid,) = orthanc.uploaded["sr"]
    assert f"skipped: {sr_uid}: Basic Text SR Storage: no pixel data" in out
    assert "3 image(s) saved, 1 non-image object(s) skipped" in out
    with Project.open(into) as project:  # ready to open: every image registered and readable
        records = project.images()
        assert sorted(r.path for r in records) == sorted(f"{uid}.dcm" for uid in orthanc.uploaded[STUDY_REX_DX])
        assert all(not r.error for r in records)
