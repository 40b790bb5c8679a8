"""`hipvision info`: what the app reads from radiograph files, as text or JSON."""

from __future__ import annotations

import json

import cv2
import numpy as np

from hipvision.cli import main
from hipvision.core.dicom_io import write_dicom

IMG = (np.arange(30 * 40, dtype=np.uint32).reshape(30, 40) * 3 % 4000 + 50).astype(np.uint16)


def test_info_text_for_dicom_and_png(tmp_path, capsys):
    dcm = write_dicom(tmp_path / "hips.dcm", IMG, spacing=(0.143, 0.15), window=(2000, 3000), bits_stored=12,
                      extra={"ViewPosition": "VD"})
    cv2.imwrite(str(tmp_path / "plain.png"), IMG)
    assert main(["info", str(dcm), str(tmp_path / "plain.png")]) == 0
    out = capsys.readouterr().out
    dicom_part, png_part = out.split(str(tmp_path / "plain.png"))
    assert str(dcm) in dicom_part
    assert "40 x 30 px" in dicom_part and "bit depth    12" in dicom_part
    assert "0.143 x 0.15 mm/px" in dicom_part and "modality     DX" in dicom_part
    assert "format       dicom" in dicom_part
    assert "centre 2000, width 3000 (from the file)" in dicom_part
    assert f"value range  {IMG.min()} .. {IMG.max()}" in dicom_part
    assert "ViewPosition" in dicom_part and "VD" in dicom_part
    assert "bit depth    16" in png_part and "spacing      unknown" in png_part
    assert "format       png" in png_part and "(automatic" in png_part


def test_info_json(tmp_path, capsys):
    dcm = write_dicom(tmp_path / "m1.dcm", IMG, spacing=(0.1, 0.1), photometric="MONOCHROME1", bits_stored=12)
    assert main(["info", "--json", str(dcm)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["path"] == str(dcm) and entry["format"] == "dicom"
    assert (entry["width"], entry["height"], entry["bit_depth"]) == (40, 30, 12)
    assert entry["spacing_mm"] == [0.1, 0.1] and entry["modality"] == "DX"
    assert entry["value_range"] == [4095 - IMG.max(), 4095 - IMG.min()]  # MONOCHROME1 inverted
    assert entry["window"]["source"] == "auto" and entry["window"]["width"] > 0
    assert entry["metadata"]["PhotometricInterpretation"] == "MONOCHROME1"


def test_info_errors_name_the_file_and_exit_2(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "ok.png"), IMG)
    (tmp_path / "empty.dcm").write_bytes(b"")
    missing = tmp_path / "missing.png"
    rc = main(["info", str(tmp_path / "ok.png"), str(tmp_path / "empty.dcm"), str(missing)])
    captured = capsys.readouterr()
    assert rc == 2
    assert str(tmp_path / "ok.png") in captured.out  # the good file is still reported
    assert f"{tmp_path / 'empty.dcm'}: empty file (0 bytes)" in captured.err
    assert f"{missing}: file not found" in captured.err

    assert main(["info", "--json", str(missing)]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"path": str(missing), "error": "file not found"}]
    assert "file not found" in captured.err
