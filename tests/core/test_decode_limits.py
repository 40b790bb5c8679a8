"""Decode memory is bounded (#16 item 9): sizes are refused from the header before any pixel
buffer exists, and a file whose data is far shorter than its header claims is refused by name
instead of being padded with grey at the claimed size."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile

from hipvision.bench.robustness_corpus import HUGE_PNG_SIDE, write_lying_jpeg, write_png_stream
from hipvision.cli import main
from hipvision.core.dicom_write import write_dicom
from hipvision.core.radiograph import RadiographError, load_radiograph, read_header


def _huge_png_header_only(path, side=HUGE_PNG_SIDE):
    """The issue's 16-bit RGBA PNG of 15,811² px, its IDAT left out: the header is what counts."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
                     + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_the_issues_huge_png_is_refused_from_its_header_before_decoding(tmp_path, capsys, monkeypatch):
    path = tmp_path / "huge.png"
    _huge_png_header_only(path)
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("decoded a refused image"))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"huge.png: image size {HUGE_PNG_SIDE} x {HUGE_PNG_SIDE} px exceeds the limit" in err
    assert "150 megapixels" in err and err.count("\n") == 1
    with pytest.raises(RadiographError, match="exceeds the limit"):
        read_header(path)  # the import's path


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_a_header_that_claims_more_than_the_data_holds_is_refused_by_name(tmp_path, capsys, fmt):
    path = tmp_path / f"liar.{fmt}"
    if fmt == "jpg":
        write_lying_jpeg(path, side=8000, data_side=256)  # 64 MP claimed, 256² px of data
    else:
        cv2.imwrite(str(tmp_path / "small.png"), np.arange(256 * 256, dtype=np.uint16).reshape(256, 256))
        png = (tmp_path / "small.png").read_bytes()
        ihdr = png[12:16] + struct.pack(">II", 8000, 8000) + png[24:29]
        path.write_bytes(png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:])
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"liar.{fmt}: truncated or corrupt {'JPEG' if fmt == 'jpg' else 'PNG'}: " in err
    assert "cannot hold the 8000 x 8000 px the header claims" in err
    with pytest.raises(RadiographError, match="cannot hold the 8000 x 8000 px"):
        read_header(path)


@pytest.mark.parametrize("variant", ["baseline", "progressive"])
def test_a_blank_jpeg_that_compresses_to_almost_nothing_still_loads(tmp_path, variant):
    """The JPEG bound (one bit per 8x8 block) must not refuse an honest uniform image."""
    params = [cv2.IMWRITE_JPEG_OPTIMIZE, 1] + ([cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if variant == "progressive" else [])
    path = tmp_path / "blank.jpg"
    cv2.imwrite(str(path), np.zeros((2048, 2048), np.uint8), params)
    assert path.stat().st_size < 2048 * 2048 / 64  # well under a byte per block
    assert load_radiograph(path, max_side=256).full_size == (2048, 2048)
    assert read_header(path).width == 2048


def test_a_blank_png_at_the_deflate_limit_still_loads(tmp_path):
    path = tmp_path / "blank.png"
    write_png_stream(path, 3000, 3000, bit_depth=16, color_type=6)  # 72 MB raw in ~70 kB
    assert path.stat().st_size < 3000 * 3000 * 8 / 1000
    rg = load_radiograph(path, max_side=128)
    assert rg.full_size == (3000, 3000) and read_header(path).height == 3000


def test_a_tiff_whose_channels_would_not_fit_is_refused_from_its_header(tmp_path, capsys):
    path = tmp_path / "rgba16.tif"
    tifffile.imwrite(path, np.zeros((8, 8, 4), np.uint16), photometric="rgb", extrasamples=[2])
    with tifffile.TiffFile(path, mode="r+b") as tf:  # claim 11,500² px: 132 MP, 1.06 GB as RGBA16
        tf.pages.first.tags["ImageWidth"].overwrite(11_500)
        tf.pages.first.tags["ImageLength"].overwrite(11_500)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rgba16.tif: image of 11500 x 11500 px with 8 bytes per pixel needs 1.1 GB" in err


def test_a_tiff_header_that_claims_more_than_its_strips_hold_is_refused_before_reading(tmp_path, capsys):
    path = tmp_path / "liar.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    with tifffile.TiffFile(path, mode="r+b") as tf:  # 8,000² px claimed, 128 bytes of strips
        tf.pages.first.tags["ImageWidth"].overwrite(8000)
        tf.pages.first.tags["ImageLength"].overwrite(8000)
    assert main(["info", str(path)]) == 2
    assert "liar.tif: truncated or corrupt TIFF: 128 bytes of pixel data cannot hold the 8000 x 8000 px" \
        in capsys.readouterr().err


def test_cut_and_poisoned_files_are_named_by_the_header_read_the_import_uses(tmp_path):
    pixels = np.full((64, 64), 300, np.uint16)
    write_dicom(tmp_path / "cut.dcm", pixels, spacing=(0.1, 0.1))
    data = (tmp_path / "cut.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 2000])
    write_dicom(tmp_path / "nan.dcm", pixels, spacing=(0.1, 0.1), extra={"RescaleSlope": float("nan")})
    write_dicom(tmp_path / "big.dcm", pixels, spacing=(0.1, 0.1), extra={"RescaleSlope": 1e38})
    tifffile.imwrite(tmp_path / "cut.tif", pixels)
    data = (tmp_path / "cut.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    arr = np.ones((16, 16), np.float32)
    arr[3, 3] = np.inf
    tifffile.imwrite(tmp_path / "inf.tif", arr)
    cv2.imwrite(str(tmp_path / "x.jpg"), pixels.astype(np.uint8))
    (tmp_path / "noeoi.jpg").write_bytes((tmp_path / "x.jpg").read_bytes()[:-2])
    expected = {"cut.dcm": "truncated DICOM", "nan.dcm": "not finite", "big.dcm": r"RescaleSlope 1e\+38",
                "cut.tif": "truncated TIFF", "inf.tif": "not finite", "noeoi.jpg": "no end-of-image marker"}
    for name, said in expected.items():
        with pytest.raises(RadiographError, match=said) as caught:
            read_header(tmp_path / name)
        assert str(caught.value).startswith(str(tmp_path / name))
    assert read_header(tmp_path / "x.jpg").width == 64
