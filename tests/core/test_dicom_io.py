"""DICOM: pydicom's bundled test files (offline), the writer, and broken or exotic files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, pixel_array
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless, SecondaryCaptureImageStorage

from hipvision.core.dicom_io import write_dicom
from hipvision.core.radiograph import RadiographError, load_radiograph, read_header


def _testfile(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:  # only files bundled with the pydicom wheel; never download in tests
        pytest.skip(f"pydicom test file {name} not available offline")
    return path


def _raw(name: str) -> np.ndarray:
    return pixel_array(pydicom.dcmread(_testfile(name)))


MR = "MR_small.dcm"
MR_VARIANTS = ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
               "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "MR_small_expb.dcm"]


def test_mr_small_window_spacing_metadata():
    r = load_radiograph(_testfile(MR))
    assert r.format == "dicom" and r.modality == "MR" and r.bit_depth == 16
    assert r.pixels.shape == (64, 64) and r.full_size == (64, 64)
    np.testing.assert_array_equal(r.pixels, _raw(MR).astype(np.float32))
    assert r.spacing == (0.3125, 0.3125)
    assert r.window == (600.0, 1600.0)
    assert r.metadata["PatientName"] and r.metadata["TransferSyntax"] == "Explicit VR Little Endian"
    h = read_header(_testfile(MR))
    assert (h.width, h.height, h.bit_depth, h.format, h.modality) == (64, 64, 16, "dicom", "MR")
    assert h.spacing == (0.3125, 0.3125)


@pytest.mark.parametrize("name", MR_VARIANTS)
def test_compressed_and_other_transfer_syntaxes_decode_identically(name):
    """RLE, JPEG 2000 lossless (openjpeg/gdcm), JPEG-LS lossless (gdcm), big endian, implicit VR."""
    np.testing.assert_array_equal(load_radiograph(_testfile(name)).pixels, load_radiograph(_testfile(MR)).pixels)


def test_ct_rescale_slope_intercept_applied():
    ds = pydicom.dcmread(_testfile("CT_small.dcm"))
    expected = _raw("CT_small.dcm") * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    r = load_radiograph(_testfile("CT_small.dcm"))
    np.testing.assert_allclose(r.pixels, expected, atol=1e-3)
    assert r.pixels.min() < 0  # Hounsfield units, not normalised
    assert r.spacing == pytest.approx((0.661468, 0.661468))


@pytest.mark.parametrize("name,shape", [("JPEG2000.dcm", (1024, 256)), ("693_J2KI.dcm", (512, 512)),
                                        ("SC_rgb_jpeg_gdcm.dcm", (100, 100))])
def test_jpeg2000_and_jpeg_lossless_files_decode(name, shape):
    r = load_radiograph(_testfile(name))
    assert r.pixels.shape == shape and r.pixels.dtype == np.float32
    assert np.ptp(r.pixels) > 0


def test_jpeg_lossless_rgb_becomes_gray_luminance():
    rgb = _raw("SC_rgb_jpeg_gdcm.dcm").astype(np.float64)  # JPEG Lossless SV1, via python-gdcm
    expected = rgb @ [0.299, 0.587, 0.114]
    assert np.abs(load_radiograph(_testfile("SC_rgb_jpeg_gdcm.dcm")).pixels - expected).max() <= 1.0


def test_monochrome1_cr_is_inverted_with_its_window():
    name = "dicomdirtests/77654033/CR1/6154"  # a real CR: MONOCHROME1, 12 bit, slope 0.684, ImagerPixelSpacing
    ds = pydicom.dcmread(_testfile(name))
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    lo, hi = intercept, 4095 * slope + intercept  # value range the file can hold
    r = load_radiograph(_testfile(name))
    np.testing.assert_allclose(r.pixels, (lo + hi) - (_raw(name) * slope + intercept), atol=1e-3)
    assert r.window == pytest.approx((lo + hi - float(ds.WindowCenter), float(ds.WindowWidth)))
    assert r.spacing == (0.1, 0.1) and r.metadata["SpacingSource"] == "ImagerPixelSpacing"
    assert r.modality == "CR" and r.bit_depth == 12 and r.metadata["ViewPosition"] == "LL"


@pytest.mark.parametrize("name,frames", [("SC_rgb_rle_2frame.dcm", 2), ("rtdose.dcm", 15)])
def test_multiframe_takes_first_frame_and_says_so(name, frames):
    r = load_radiograph(_testfile(name))
    first = pixel_array(pydicom.dcmread(_testfile(name)), index=0)
    if first.ndim == 3:
        first = first.astype(np.float64) @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(r.pixels, first, atol=1.0)
    assert r.metadata["Frames"] == f"{frames} (first shown)"


def test_12bit_jpeg_extended_names_the_package_that_would_decode_it():
    path = _testfile("JPGExtended.dcm")  # only the optional GPL pylibjpeg-libjpeg decodes 12-bit JPEG
    try:
        import libjpeg  # noqa: F401
    except ImportError:
        with pytest.raises(RadiographError, match="pylibjpeg-libjpeg") as info:
            load_radiograph(path)
        assert "JPEG Extended" in info.value.reason and "gpl-decoders" in info.value.reason
    else:
        assert load_radiograph(path).bit_depth == 12


def test_no_installed_decoder_says_which_package_to_install(monkeypatch):
    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})  # as if neither openjpeg nor gdcm were installed
    with pytest.raises(RadiographError, match="no decoder installed; install pylibjpeg-openjpeg"):
        load_radiograph(_testfile("MR_small_jp2klossless.dcm"))


@pytest.mark.parametrize("name,reason", [
    ("MR_truncated.dcm", "pixel data"), ("rtplan.dcm", "no image"), ("ExplVR_LitEndNoMeta.dcm", "no image"),
])
def test_broken_or_non_image_dicom(name, reason):
    with pytest.raises(RadiographError, match=reason):
        load_radiograph(_testfile(name))


def test_corrupt_and_huge_dicom(tmp_path):
    data = open(_testfile(MR), "rb").read()
    for cut in (140, 400, 1000):
        (tmp_path / f"cut{cut}.dcm").write_bytes(data[:cut])
        with pytest.raises(RadiographError) as info:
            load_radiograph(tmp_path / f"cut{cut}.dcm")
        assert info.value.path == tmp_path / f"cut{cut}.dcm"
    (tmp_path / "noise.dcm").write_bytes(data[:132] + bytes(range(256)) * 8)
    with pytest.raises(RadiographError, match="DICOM"):
        load_radiograph(tmp_path / "noise.dcm")

    ds = pydicom.dcmread(_testfile(MR))
    ds.Rows = ds.Columns = 60_000  # a header that would need 7 GB; pixel data stays small
    ds.save_as(tmp_path / "huge.dcm")
    for fn in (load_radiograph, read_header):
        with pytest.raises(RadiographError, match="60000 x 60000 px exceeds the limit"):
            fn(tmp_path / "huge.dcm")


# ------------------------------------------------------------------ writer

IMG = (np.arange(40 * 48, dtype=np.uint32).reshape(40, 48) * 37 % 4096).astype(np.uint16)


@pytest.mark.parametrize("compress,syntax", [(None, "Explicit VR Little Endian"), ("rle", "RLE Lossless"),
                                             ("jpeg2000", "JPEG 2000 Image Compression (Lossless Only)")])
def test_write_dicom_round_trips_exactly(tmp_path, compress, syntax):
    path = write_dicom(tmp_path / "out.dcm", IMG, spacing=(0.125, 0.15), window=(2000, 3000),
                       compress=compress, bits_stored=12, extra={"BodyPartExamined": "PELVIS"})
    assert path == tmp_path / "out.dcm"
    r = load_radiograph(path)
    np.testing.assert_array_equal(r.pixels, IMG.astype(np.float32))  # lossless, exact
    assert r.spacing == (0.125, 0.15) and r.window == (2000.0, 3000.0)
    assert r.bit_depth == 12 and r.modality == "DX"
    assert r.metadata["PatientID"] == "PHANTOM" and r.metadata["BodyPartExamined"] == "PELVIS"
    assert r.metadata["TransferSyntax"] == syntax
    ds = pydicom.dcmread(path)  # a proper Part 10 file for other software too
    assert ds.file_meta.MediaStorageSOPClassUID == SecondaryCaptureImageStorage == ds.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    np.testing.assert_array_equal(ds.pixel_array, IMG)
    assert [p.name for p in tmp_path.iterdir()] == ["out.dcm"]  # no temporary left behind


def test_write_dicom_monochrome1_rescale_and_8bit(tmp_path):
    p = write_dicom(tmp_path / "m1.dcm", IMG, spacing=None, window=(1000, 500), photometric="MONOCHROME1",
                    bits_stored=12, extra={"RescaleSlope": "2", "RescaleIntercept": "-100"})
    r = load_radiograph(p)
    lo, hi = -100.0, 4095 * 2 - 100.0
    np.testing.assert_array_equal(r.pixels, (lo + hi) - (IMG * 2.0 - 100))  # bone bright after inversion
    assert r.window == (lo + hi - 1000, 500) and r.spacing is None

    img8 = (IMG >> 4).astype(np.uint8)
    r = load_radiograph(write_dicom(tmp_path / "u8.dcm", img8[:, :47], spacing=(1, 1), compress="rle"))
    np.testing.assert_array_equal(r.pixels, img8[:, :47])  # odd width: padded pixel data
    assert r.bit_depth == 8


@pytest.mark.parametrize("vr", ["US", "OW"])  # LUT Data may be stored either way
def test_write_dicom_voi_lut_sequence_gives_equivalent_window(tmp_path, vr):
    item = Dataset()
    item.LUTDescriptor = [400, 800, 16]  # 400 entries starting at stored value 800
    lut = np.linspace(0, 65535, 400).astype(np.uint16)
    item.add_new("LUTData", vr, lut.tolist() if vr == "US" else lut.astype("<u2").tobytes())
    p = write_dicom(tmp_path / "voi.dcm", IMG, spacing=None, extra={"VOILUTSequence": Sequence([item])})
    centre, width = load_radiograph(p).window
    assert centre == pytest.approx(1000, abs=2) and width == pytest.approx(400, rel=0.01)


def test_write_dicom_is_deterministic_and_replaces_atomically(tmp_path):
    a = write_dicom(tmp_path / "a.dcm", IMG, spacing=(0.1, 0.1)).read_bytes()
    b = write_dicom(tmp_path / "b.dcm", IMG, spacing=(0.1, 0.1)).read_bytes()
    assert a == b  # content-derived UIDs: reproducible phantoms
    write_dicom(tmp_path / "a.dcm", IMG[::-1].copy(), spacing=(0.1, 0.1))
    np.testing.assert_array_equal(load_radiograph(tmp_path / "a.dcm").pixels, IMG[::-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dcm", "b.dcm"]


@pytest.mark.parametrize("kwargs,field", [
    ({"pixels": IMG.astype(np.float32)}, "pixels"),
    ({"pixels": np.dstack([IMG, IMG])}, "pixels"),
    ({"spacing": (0.1, -1)}, "spacing"),
    ({"window": (10, 0)}, "window"),
    ({"photometric": "RGB"}, "photometric"),
    ({"compress": "zip"}, "compress"),
    ({"compress": "jpeg2000", "pixels": IMG[:16, :16]}, "compress"),
    ({"bits_stored": 8}, "bits_stored"),
    ({"extra": {"NotAKeyword": 1}}, "extra"),
])
def test_write_dicom_validates_arguments(tmp_path, kwargs, field):
    args = {"pixels": IMG, "spacing": (0.1, 0.1)} | kwargs
    pixels = args.pop("pixels")
    with pytest.raises(ValueError, match=field):
        write_dicom(tmp_path / "x.dcm", pixels, **args)
    assert list(tmp_path.iterdir()) == []
