"""C-MOVE against a real Orthanc: HipVision listens on the move port as HIPVISION, Orthanc (which
lists HIPVISION and MOVER at that port) sends the study there. The same files as C-GET, the fallback
from a refused C-GET, and one clear line when the PACS cannot send to us."""

import json
import socket

import numpy as np
import pydicom
import pytest

from hipvision.cli import main
from hipvision.core.jobs import Cancelled, CancelToken
from hipvision.core.settings import AppSettings, SettingsError
from hipvision.pacs import PacsError, parse_server
from hipvision.pacs.retrieve import RetrieveConfig, retrieve_study
from tests.pacs.conftest import STUDY_BELLA_CR, STUDY_REX_DX, free_port, pixels, retrieve_rex_checked


def _retrieve(orthanc, tmp_path, *extra: str, calling_ae: str = "HIPVISION", study: str = STUDY_REX_DX):
    into = tmp_path / "study"
    code = main(["pacs", "retrieve", "--server", orthanc.dimse, "--calling-ae", calling_ae, "--study", study,
                 "--into", str(into), "--quiet", *extra])
    return code, into


def test_move_round_trip_gives_the_same_files_as_get(orthanc, tmp_path):
    retrieve_rex_checked(orthanc, RetrieveConfig(parse_server(orthanc.dimse), STUDY_REX_DX, tmp_path / "study",
                                                 method="move", move_port=orthanc.move_port))


def test_auto_falls_back_to_move_when_the_pacs_refuses_get(orthanc, tmp_path, capsys):
    # MOVER may C-FIND and C-MOVE but not C-GET: --method get fails, auto (the default) moves.
    code, into = _retrieve(orthanc, tmp_path, "--method", "get", calling_ae="MOVER", study=STUDY_BELLA_CR)
    assert code == 2 and not into.exists()
    assert capsys.readouterr().err == (f"hipvision pacs: error: {orthanc.dimse} refused C-GET "
                                       "(the request was aborted)\n")
    code, into = _retrieve(orthanc, tmp_path, "--move-port", str(orthanc.move_port), calling_ae="MOVER",
                           study=STUDY_BELLA_CR)
    assert code == 0, capsys.readouterr().err
    (uid,) = orthanc.uploaded[STUDY_BELLA_CR]
    assert sorted(p.name for p in into.glob("*.dcm")) == [f"{uid}.dcm"]
    np.testing.assert_array_equal(pydicom.dcmread(into / f"{uid}.dcm").pixel_array, pixels(5))
    assert "1 image(s) saved" in capsys.readouterr().out


def test_move_port_comes_from_the_settings(orthanc, tmp_path, monkeypatch, capsys):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "settings.json").write_text(json.dumps({"pacs_move_port": orthanc.move_port}))
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(config_dir))
    code, into = _retrieve(orthanc, tmp_path, "--method", "move", study=STUDY_BELLA_CR)
    assert code == 0, capsys.readouterr().err
    assert [p.name for p in into.glob("*.dcm")] == [f"{orthanc.uploaded[STUDY_BELLA_CR][0]}.dcm"]


def test_move_port_setting_is_validated():
    assert AppSettings().pacs_move_port == 11112
    assert AppSettings.from_dict(AppSettings(pacs_move_port=4006).to_dict()).pacs_move_port == 4006
    for bad in (0, 65536, "11112", True, 1.5):
        with pytest.raises(SettingsError, match="AppSettings.pacs_move_port must be a port number"):
            AppSettings.from_dict({"pacs_move_port": bad})


def test_pacs_that_cannot_send_to_us_is_one_line_naming_ae_and_port(orthanc, tmp_path, capsys):
    port = free_port()  # we listen here; Orthanc knows HIPVISION at another port
    code, into = _retrieve(orthanc, tmp_path, "--method", "move", "--move-port", str(port))
    assert code == 2 and not into.exists()
    assert capsys.readouterr().err == (
        f"hipvision pacs: error: {orthanc.dimse} could not send study {STUDY_REX_DX} to AE title 'HIPVISION' "
        f"(C-MOVE status 0xC000): the PACS must know AE title HIPVISION at this computer's address, port {port}\n")
    # Neither works: C-GET refused, C-MOVE sent nowhere. One line says both.
    code, into = _retrieve(orthanc, tmp_path, "--move-port", str(port), calling_ae="MOVER")
    err = capsys.readouterr().err
    assert code == 2 and not into.exists() and err.count("\n") == 1
    assert err.endswith(f"the PACS must know AE title MOVER at this computer's address, port {port} "
                        "(C-GET was refused too: the request was aborted)\n")


def test_unknown_calling_ae_is_named(orthanc, tmp_path, capsys):
    code, into = _retrieve(orthanc, tmp_path, "--method", "move", "--move-port", str(orthanc.move_port),
                           calling_ae="STRANGER")
    assert code == 2 and not into.exists()
    assert capsys.readouterr().err.endswith("does the PACS accept requests from AE title 'STRANGER'?)\n")


def test_move_port_in_use(orthanc, tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, into = _retrieve(orthanc, tmp_path, "--method", "move", "--move-port", str(port))
    assert code == 2 and not into.exists()
    assert capsys.readouterr().err.startswith(f"hipvision pacs: error: cannot listen on port {port} for C-MOVE: ")


def test_cancel_mid_move_leaves_only_complete_files(orthanc, tmp_path):
    into = tmp_path / "study"
    cancel = CancelToken()
    arrived = []

    def on_file(path):
        arrived.append(path)
        cancel.set()

    config = RetrieveConfig(parse_server(orthanc.dimse), STUDY_REX_DX, into, method="move",
                            move_port=orthanc.move_port)
    with pytest.raises(Cancelled):
        retrieve_study(config, cancel=cancel, on_file=on_file)
    files = sorted(into.iterdir())
    assert arrived and len(files) < len(orthanc.uploaded[STUDY_REX_DX])
    expected = {uid: pixels(seed) for seed, uid in zip((1, 2, 3), orthanc.uploaded[STUDY_REX_DX])}
    for path in files:
        assert path.suffix == ".dcm"
        np.testing.assert_array_equal(pydicom.dcmread(path).pixel_array, expected[path.stem])


def test_move_refuses_tls_and_dicomweb(tmp_path):
    server = parse_server("PACS@127.0.0.1:1", tls=True)
    with pytest.raises(PacsError, match="C-MOVE over TLS is not supported"):
        retrieve_study(RetrieveConfig(server, STUDY_REX_DX, tmp_path / "s", method="move"))
    with pytest.raises(ValueError, match="'move' needs a DIMSE server"):
        RetrieveConfig(parse_server("http://127.0.0.1:1/dicom-web"), STUDY_REX_DX, tmp_path, method="move")
    assert not (tmp_path / "s").exists()
