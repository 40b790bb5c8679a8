"""Loading PNG/JPEG/TIFF radiographs: exact round trips, reduced decoding, and bad files."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from hipvision.core.dicom_io import write_dicom
from hipvision.core.radiograph import (
    MAX_SIDE,
    Radiograph,
    RadiographError,
    is_radiograph_file,
    load_radiograph,
    read_header,
    sha256_file,
)

RNG = np.random.default_rng(7)
A8 = RNG.integers(0, 256, (37, 53), dtype=np.uint8)
A16 = RNG.integers(0, 65536, (37, 53), dtype=np.uint16)


def _cv2_png(p, a):
    assert cv2.imwrite(str(p), a)


def _pil_png(p, a):
    Image.fromarray(a).save(p)


def _tifffile(p, a):
    tifffile.imwrite(p, a)


def _tifffile_zlib(p, a):
    tifffile.imwrite(p, a, compression="zlib")


def _cv2_tiff_lzw(p, a):  # LZW: tifffile needs imagecodecs for it, so OpenCV's libtiff decodes
    assert cv2.imwrite(str(p), a)


@pytest.mark.parametrize("writer,suffix", [
    (_cv2_png, ".png"), (_pil_png, ".png"), (_tifffile, ".tif"), (_tifffile_zlib, ".tiff"),
    (_cv2_tiff_lzw, ".tif"),
])
@pytest.mark.parametrize("array", [A8, A16], ids=["8bit", "16bit"])
def test_lossless_formats_round_trip_exactly(tmp_path, writer, suffix, array):
    path = tmp_path / f"img{suffix}"
    writer(path, array)
    r = load_radiograph(path)
    assert r.pixels.dtype == np.float32
    np.testing.assert_array_equal(r.pixels, array.astype(np.float32))
    assert r.bit_depth == array.dtype.itemsize * 8
    assert r.format == ("png" if suffix == ".png" else "tiff")
    assert r.full_size == array.shape and r.scale == 1.0
    assert r.spacing is None and r.window is None and r.modality == ""
    assert r.value_range == (float(array.min()), float(array.max()))
    assert read_header(path).width == 53 and read_header(path).height == 37


def test_rgb_and_alpha_become_luminance_at_full_depth(tmp_path):
    rgb16 = np.dstack([A16, A16 // 2, A16 // 4])  # RGB order
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[:, :, ::-1])  # OpenCV writes BGR
    expected = 0.299 * A16 + 0.587 * (A16 // 2) + 0.114 * (A16 // 4)
    r = load_radiograph(tmp_path / "rgb16.png")
    assert r.bit_depth == 16 and r.pixels.max() > 255  # not squeezed to 8 bits
    assert np.abs(r.pixels - expected).max() <= 3.0  # OpenCV uses 14-bit fixed-point weights

    rgba = np.dstack([A8, A8, A8, np.zeros_like(A8)])  # fully transparent: alpha is dropped, not composited
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_radiograph(tmp_path / "rgba.png").pixels, A8)

    tifffile.imwrite(tmp_path / "planar.tif", np.stack([A8, A8, A8]), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(load_radiograph(tmp_path / "planar.tif").pixels, A8)


def test_tiff_miniswhite_inverted_multipage_first_and_float(tmp_path):
    tifffile.imwrite(tmp_path / "w.tif", A16, photometric="miniswhite")
    np.testing.assert_array_equal(load_radiograph(tmp_path / "w.tif").pixels, 65535.0 - A16)

    tifffile.imwrite(tmp_path / "m.tif", np.stack([A16, A16 // 3]))
    r = load_radiograph(tmp_path / "m.tif")
    np.testing.assert_array_equal(r.pixels, A16)
    assert r.metadata["Frames"] == "2 (first shown)"

    f = (A16.astype(np.float32) - 30000) / 7
    tifffile.imwrite(tmp_path / "f.tif", f)
    r = load_radiograph(tmp_path / "f.tif")
    np.testing.assert_array_equal(r.pixels, f)
    assert r.bit_depth == 32 and r.pixels.min() < 0  # never normalised


def test_jpeg_loads_close_to_original(tmp_path):
    smooth = cv2.GaussianBlur(A8, (0, 0), 3)
    cv2.imwrite(str(tmp_path / "x.jpg"), smooth, [cv2.IMWRITE_JPEG_QUALITY, 100])
    r = load_radiograph(tmp_path / "x.jpg")
    assert r.format == "jpeg" and r.bit_depth == 8 and r.pixels.shape == (37, 53)
    assert np.abs(r.pixels - smooth).max() <= 2
    h = read_header(tmp_path / "x.jpg")
    assert (h.width, h.height, h.bit_depth, h.format) == (53, 37, 8, "jpeg")


def _dot_image(h, w, y, x, dtype=np.uint8, value=255):
    img = np.zeros((h, w), dtype)
    img[y - 8:y + 8, x - 8:x + 8] = value
    return img


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a16.png", "a.tif", "a.dcm"])
def test_max_side_reduces_and_scale_maps_back_to_full_resolution(tmp_path, name):
    dtype = np.uint16 if name in ("a16.png", "a.dcm") else np.uint8
    img = _dot_image(1500, 2000, 1100, 1300, dtype, 4000 if dtype == np.uint16 else 255)
    path = tmp_path / name
    if name.endswith(".dcm"):
        write_dicom(path, img, spacing=(0.1, 0.1), bits_stored=12)
    elif name.endswith(".tif"):
        tifffile.imwrite(path, img)
    else:
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
    r = load_radiograph(path, max_side=500)
    assert r.pixels.shape == (375, 500) and r.pixels.dtype == np.float32
    assert r.full_size == (1500, 2000) and r.scale == pytest.approx(0.25)
    ys, xs = np.nonzero(r.pixels > r.pixels.max() / 2)
    # the dot's centre, mapped back to full resolution, lands within 2 full-res px
    assert ys.mean() / r.scale == pytest.approx(1100, abs=2) and xs.mean() / r.scale == pytest.approx(1300, abs=2)
    assert r.pixels.mean() == pytest.approx(img.mean(), rel=0.03)  # box filtering keeps the mean
    if dtype == np.uint16:
        assert r.pixels.max() > 255  # still full depth
    if r.spacing:
        assert r.spacing_mm() == pytest.approx((0.4, 0.4))
    assert load_radiograph(path, max_side=4000).pixels.shape == (1500, 2000)  # never enlarged


def test_content_decides_format_not_the_extension(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), A8)
    (tmp_path / "png_named.dcm").write_bytes((tmp_path / "x.png").read_bytes())
    r = load_radiograph(tmp_path / "png_named.dcm")
    assert r.format == "png"
    np.testing.assert_array_equal(r.pixels, A8)

    write_dicom(tmp_path / "dicom_named.png", A16, spacing=(0.2, 0.2))
    r = load_radiograph(tmp_path / "dicom_named.png")
    assert r.format == "dicom" and r.spacing == (0.2, 0.2)
    np.testing.assert_array_equal(r.pixels, A16)


def _png_with_ihdr(width, height):
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)))


def _jpeg_claiming(width, height):
    sof = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9"


def _bad_files(tmp_path):
    cv2.imwrite(str(tmp_path / "good.png"), A16)
    cv2.imwrite(str(tmp_path / "good.jpg"), A8)
    png, jpg = (tmp_path / "good.png").read_bytes(), (tmp_path / "good.jpg").read_bytes()
    files = {
        "empty.png": (b"", "empty file"),
        "truncated.png": (png[: len(png) // 2], "truncated"),
        "truncated.jpg": (jpg[: len(jpg) // 2], "truncated"),
        "cut_in_header.jpg": (jpg[:20], "truncated"),
        "bad_crc.png": (png[:29] + b"\0\0\0\0" + png[33:], "checksum"),
        "huge.png": (_png_with_ihdr(60_000, 60_000), f"{MAX_SIDE:,} px per side"),
        "huge_mp.png": (_png_with_ihdr(19_000, 15_000), "megapixels"),
        "huge.jpg": (_jpeg_claiming(60_000, 60_000), "60000 x 60000"),
        "notes.txt": (b"hello radiograph\n" * 20, "not a PNG, JPEG, TIFF or DICOM"),
        "text.png": (b"hello radiograph\n" * 20, "does not match its content"),
        "text.dcm": (b"hello radiograph\n" * 20, "not a DICOM file"),
        "image.bmp": (b"BM" + b"\0" * 200, "unsupported image format BMP"),
        "broken.tif": (b"II*\x00" + b"\xff" * 60, "TIFF"),
    }
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.png").mkdir()
    files["folder.png"] = (None, "is a directory")
    files["missing.dcm"] = (None, "file not found")
    return files


def test_bad_files_raise_radiograph_error_naming_file_and_reason(tmp_path):
    for name, (_, reason) in _bad_files(tmp_path).items():
        path = tmp_path / name
        with pytest.raises(RadiographError) as info:
            load_radiograph(path, max_side=512 if "jpg" in name else None)
        err = info.value
        assert err.path == path, name
        assert reason in err.reason, (name, err.reason)
        assert str(err) == f"{path}: {err.reason}"
        if name not in ("truncated.png", "truncated.jpg"):  # headers intact: read_header succeeds there
            with pytest.raises(RadiographError, match=reason.split(" (")[0][:20]):
                read_header(path)


def test_read_header_reads_the_header_and_refuses_a_cut_file_without_decoding(tmp_path, monkeypatch):
    """The import reads headers only; a file cut short is still named there (it used to be
    imported as good and fail only when opened)."""
    cv2.imwrite(str(tmp_path / "good.png"), A16)
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("read_header decoded pixels"))
    h = read_header(tmp_path / "good.png")
    assert (h.width, h.height, h.bit_depth, h.format, h.spacing) == (53, 37, 16, "png", None)
    with pytest.raises(RadiographError, match="cut.png: truncated PNG: the file ends before its IEND chunk"):
        read_header(tmp_path / "cut.png")


@pytest.mark.parametrize("size_limit", [1000, 500], ids=["bomb-warning", "bomb-error"])
def test_pillow_decompression_bomb_becomes_radiograph_error(tmp_path, monkeypatch, size_limit):
    """Pillow decodes what OpenCV refuses; its bomb warning must not slip through as a warning."""
    cv2.imwrite(str(tmp_path / "x.png"), A8)  # 1,961 px: above the patched limits
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", size_limit)
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: None)
    with pytest.raises(RadiographError, match="decompression-bomb"):
        load_radiograph(tmp_path / "x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    np.testing.assert_array_equal(load_radiograph(tmp_path / "x.png").pixels, A8)  # the fallback works


def test_sha256_file(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), A16)
    data = (tmp_path / "x.png").read_bytes()
    assert sha256_file(tmp_path / "x.png") == hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "x.png") == hashlib.sha256(data).hexdigest()
    with pytest.raises(RadiographError, match="file not found"):
        sha256_file(tmp_path / "nope.png")
    with pytest.raises(RadiographError, match="directory"):
        sha256_file(tmp_path)


def test_is_radiograph_file(tmp_path):
    for name in ("a.png", "b.JPG", "c.jpeg", "d.tif", "e.TIFF", "f.dcm", "g.dicom", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    write_dicom(tmp_path / "IM000001", A8, spacing=None)  # DICOM named without a suffix
    write_dicom(tmp_path / "1.2.840.10008.5", A8, spacing=None)  # ... or by its UID
    (tmp_path / "README").write_text("not an image")
    (tmp_path / "sub.png").mkdir()
    found = sorted(p.name for p in tmp_path.iterdir() if is_radiograph_file(p))
    assert found == ["1.2.840.10008.5", "IM000001", "a.png", "b.JPG", "c.jpeg", "d.tif", "e.TIFF", "f.dcm", "g.dicom"]
    assert load_radiograph(tmp_path / "IM000001").format == "dicom"
    assert not is_radiograph_file(tmp_path / "absent.png")


def test_radiograph_validates_and_is_read_only():
    px = np.zeros((4, 5), np.float32)
    r = Radiograph(pixels=px, path=None, format="png", bit_depth=8, spacing=None, modality="",
                   window=None, full_size=(4, 5), metadata={"PatientID": "7"})
    assert (r.height, r.width, r.value_range) == (4, 5, (0.0, 0.0))
    with pytest.raises(TypeError):
        r.metadata["PatientID"] = "8"  # type: ignore[index]
    with pytest.raises(ValueError, match="pixels"):
        Radiograph(pixels=px.astype(np.float64), path=None, format="png", bit_depth=8, spacing=None,
                   modality="", window=None, full_size=(4, 5))
    with pytest.raises(ValueError, match="max_side"):
        load_radiograph("whatever.png", max_side=0)


def test_decoding_never_imports_qt_or_torch(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), A16)
    cv2.imwrite(str(tmp_path / "a.jpg"), A8)
    tifffile.imwrite(tmp_path / "a.tif", A16)
    write_dicom(tmp_path / "a.dcm", np.tile(A16, (1, 1))[:32, :32], spacing=(0.1, 0.1), compress="jpeg2000")
    code = (
        "import sys\n"
        "from hipvision.core.radiograph import load_radiograph\n"
        "from hipvision.core.windowing import to_uint8\n"
        f"for n in ('a.png', 'a.jpg', 'a.tif', 'a.dcm'): to_uint8(load_radiograph({str(tmp_path)!r} + '/' + n))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
