"""DICOM reading (pydicom) into bone-is-bright float32, and the header without the pixels.

Order of the pixel pipeline, following PS3.3 C.11: decode the first frame -> Modality LUT
(Rescale Slope/Intercept, or a Modality LUT Sequence) -> MONOCHROME1 inversion. The VOI
window is kept as (centre, width) in the same units as the returned pixels, so it is
mirrored too when MONOCHROME1 is inverted. The writer lives in dicom_write.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hipvision.core.dicom_write import write_dicom  # noqa: F401  (the writer is part of this API)
from hipvision.core.imagefile import (
    Decoded,
    ImageHeader,
    RadiographError,
    check_dimensions,
    resize_area,
    target_size,
    to_gray,
)

# Metadata a vet (or the project store) wants to see; values absent or empty are left out.
METADATA_TAGS = (
    "PatientID", "PatientName", "PatientSpeciesDescription", "PatientBreedDescription",
    "StudyDate", "StudyDescription", "SeriesDescription", "InstitutionName", "Manufacturer",
    "BodyPartExamined", "ViewPosition", "ImageLaterality", "PhotometricInterpretation",
    "SOPInstanceUID",
)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


# Fallback when pydicom names no missing plugin (e.g. all installed ones failed to load).
_KNOWN_DECODERS = (("2000", ["pylibjpeg-openjpeg", "python-gdcm"]), ("JPEG-LS", ["python-gdcm", "pyjpegls"]),
                   ("JPEG", ["python-gdcm", "pylibjpeg-libjpeg"]), ("RLE", ["pylibjpeg-rle"]))


def _installed(dist: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


def _decoder_hint(uid, decoder) -> str:
    """Which packages would decode this transfer syntax, e.g. for 12-bit JPEG Extended only
    the GPL-licensed pylibjpeg-libjpeg, which HipVision keeps optional."""
    options = []  # one entry per pydicom plugin: the packages it still lacks, all needed
    for line in decoder.missing_dependencies:  # "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1"
        if "requires" not in line:
            continue
        deps = line.split("requires", 1)[1].replace(" and ", ",").split(",")
        names = [re.split(r"[<>=!~ ]", d.strip())[0] for d in deps]
        names = ["python-gdcm" if n == "gdcm" else n for n in names if n and n != "numpy"]
        missing = [n for n in names if not _installed(n)] or names
        options.append(" + ".join(missing))
    if not options:
        options = next((pkgs for key, pkgs in _KNOWN_DECODERS if key in uid.name), ["python-gdcm"])
    hint = "install " + " or ".join(dict.fromkeys(options))
    if "pylibjpeg-libjpeg" in hint:
        hint += " (GPL-licensed, optional: pip install 'hipvision[gpl-decoders]')"
    return hint


def _read(path: Path, *, header_only: bool):
    import pydicom

    with open(path, "rb") as f:
        f.seek(128)
        has_magic = f.read(4) == b"DICM"
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=header_only, force=not has_magic)
    except Exception as exc:  # pydicom raises InvalidDicomError, EOFError, ValueError, struct.error...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RadiographError(path, f"corrupt or truncated DICOM ({reason})") from None
    if "Rows" not in ds or "Columns" not in ds:
        if not has_magic and not any(k in ds for k in ("SOPClassUID", "Modality", "StudyInstanceUID")):
            raise RadiographError(path, "not a DICOM file (no 'DICM' marker and no DICOM attributes)")
        raise RadiographError(
            path, "DICOM file has no image attributes (Rows/Columns): truncated, or not an image "
            "(a report, DICOMDIR or other non-image object)",
        )
    return ds


def _float(ds, keyword: str, default=None):
    """First value of a numeric element as float; `default` when absent or malformed."""
    from pydicom.multival import MultiValue

    try:
        value = ds.get(keyword)
        if value is None or value == "":
            return default
        if isinstance(value, (list, tuple, MultiValue)):
            value = value[0]
        return float(value)
    except (ValueError, TypeError, IndexError):
        return default


def _spacing(ds) -> tuple[tuple[float, float] | None, str]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        try:
            value = ds.get(keyword)
            if value is not None and len(value) >= 2:
                row, col = float(value[0]), float(value[1])
                if 0 < row < 100 and 0 < col < 100:
                    return (row, col), keyword
        except (ValueError, TypeError):
            pass
    return None, ""


def _int(ds, keyword: str, default: int) -> int:
    value = _float(ds, keyword)
    return default if value is None else int(value)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_rescale(path: Path, ds) -> None:
    """A Rescale Slope/Intercept that is not finite, or that maps the stored range beyond
    float32, makes every pixel NaN or infinite: refused from the header, before decoding."""
    slope, intercept = _float(ds, "RescaleSlope", 1.0), _float(ds, "RescaleIntercept", 0.0)
    if slope is None or intercept is None or not (np.isfinite(slope) and np.isfinite(intercept)):
        raise RadiographError(path, "pixel values are not finite (NaN or infinity; "
                                    "a float image with NaN, or a DICOM rescale that overflows)")
    bits = min(max(_int(ds, "BitsStored", _int(ds, "BitsAllocated", 16)), 1), 64)
    if abs(slope) * 2.0 ** bits + abs(intercept) > _FLOAT32_MAX:
        raise RadiographError(path, f"pixel values are not finite (NaN or infinity; a DICOM rescale that "
                                    f"overflows: RescaleSlope {slope:g} on {bits}-bit values)")


def _check_pixel_length(path: Path, ds, rows: int, cols: int) -> None:
    """Uncompressed pixel data cannot be longer than the file: a cut-short file is refused
    from the header (the import reads only headers)."""
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid is None or uid.is_compressed:
        return
    frames = max(_int(ds, "NumberOfFrames", 1), 1)
    bits = _int(ds, "BitsAllocated", 16)
    need = rows * cols * frames * max(_int(ds, "SamplesPerPixel", 1), 1) * bits // 8
    size = path.stat().st_size
    if need > size:
        raise RadiographError(path, f"truncated DICOM: {rows} x {cols} px x {frames} frame(s) need "
                                    f"{need:,} bytes of pixel data, the file has {size:,}")


def dicom_header(path: Path) -> ImageHeader:
    ds = _read(path, header_only=True)
    rows, cols = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    check_dimensions(path, cols, rows)
    _check_rescale(path, ds)
    _check_pixel_length(path, ds, rows, cols)
    spacing, _ = _spacing(ds)
    return ImageHeader(
        width=cols, height=rows,
        bit_depth=_int(ds, "BitsStored", _int(ds, "BitsAllocated", 16)),
        format="dicom", spacing=spacing, modality=str(ds.get("Modality", "") or ""),
    )


def _ensure_transfer_syntax(ds) -> None:
    """Files without file meta (forced reads) still need a transfer syntax to decode."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if "TransferSyntaxUID" in getattr(ds, "file_meta", {}):
        return
    if not hasattr(ds, "file_meta"):
        ds.file_meta = FileMetaDataset()
    implicit, little = getattr(ds, "original_encoding", (True, True))
    ds.file_meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    )


def _decode_first_frame(path: Path, ds, frames: int) -> np.ndarray:
    from pydicom.pixels import get_decoder, pixel_array

    uid = ds.file_meta.TransferSyntaxUID
    decoder = None
    if uid.is_compressed:
        try:
            decoder = get_decoder(uid)
        except NotImplementedError:
            raise RadiographError(path, f"unsupported DICOM transfer syntax {uid.name} ({uid})") from None
        if not decoder.is_available:
            raise RadiographError(
                path, f"cannot decode {uid.name} pixel data: no decoder installed; {_decoder_hint(uid, decoder)}"
            )
    try:
        return pixel_array(ds, index=0 if frames > 1 else None)
    except Exception as exc:
        # pydicom lists each plugin's failure on its own line; keep them all, they say why
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()] or [type(exc).__name__]
        reason = "; ".join(lines[1:]) if len(lines) > 1 and lines[0].endswith(":") else "; ".join(lines)
        message = f"cannot decode {uid.name} pixel data ({reason})"
        if decoder is not None and decoder.missing_dependencies:
            message += f"; a decoder that is not installed may read it: {_decoder_hint(uid, decoder)}"
        raise RadiographError(path, message) from None


def _voi_lut_window(item, signed: bool) -> tuple[float, float] | None:
    """A linear (centre, width) that matches a VOI LUT: it crosses 25 % and 75 % of the
    output range at the same inputs (exact for a linear LUT, close for a sigmoid one)."""
    try:
        n, first, _bits = (int(v) for v in item.LUTDescriptor)
        data = item.LUTData
        lut = np.frombuffer(data, "<u2") if isinstance(data, bytes) else np.asarray(data, float)
    except (AttributeError, ValueError, TypeError):
        return None
    n = n or 65536
    if signed and first >= 32768:
        first -= 65536
    lut = lut[:n].astype(np.float64)
    if lut.size < 2 or np.ptp(lut) == 0:
        return None
    y = (lut - lut.min()) / np.ptp(lut)
    if y[0] > y[-1]:
        y = 1.0 - y
    x25 = first + int(np.argmax(y >= 0.25))
    x75 = first + int(np.argmax(y >= 0.75))
    return (x25 + x75) / 2.0, max(2.0 * (x75 - x25), 1.0)


def _window(ds, signed: bool) -> tuple[float, float] | None:
    centre, width = _float(ds, "WindowCenter"), _float(ds, "WindowWidth")
    if centre is not None and width is not None and width > 0:
        return centre, width
    seq = ds.get("VOILUTSequence")
    if seq:
        return _voi_lut_window(seq[0], signed)
    return None


def _metadata(ds, frames: int, spacing_source: str) -> dict[str, str]:
    meta: dict[str, str] = {}
    for keyword in METADATA_TAGS:
        try:
            value = str(ds.get(keyword, "") or "").strip()
        except Exception:  # a malformed text element must not stop the image from loading
            continue
        if value:
            meta[keyword] = value
    meta["TransferSyntax"] = ds.file_meta.TransferSyntaxUID.name
    if spacing_source:
        meta["SpacingSource"] = spacing_source
    if frames > 1:
        meta["Frames"] = f"{frames} (first shown)"
    return meta


def decode_dicom(path: Path, max_side: int | None) -> Decoded:
    ds = _read(path, header_only=False)
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise RadiographError(path, "DICOM file has no pixel data")
    rows, cols = _int(ds, "Rows", 0), _int(ds, "Columns", 0)
    check_dimensions(path, cols, rows)
    frames = max(_int(ds, "NumberOfFrames", 1), 1)
    _ensure_transfer_syntax(ds)
    arr = _decode_first_frame(path, ds, frames)

    photometric = str(ds.get("PhotometricInterpretation") or "MONOCHROME2").strip().upper()
    bits = min(max(_int(ds, "BitsStored", _int(ds, "BitsAllocated", 16)), 1), 64)
    signed = _int(ds, "PixelRepresentation", 0) == 1
    # Integers here (a modality LUT indexes with them), floats once rescaled.
    lo: float
    hi: float
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    if arr.ndim == 3:  # RGB (YBR already converted by pydicom): luminance, no modality LUT
        arr = to_gray(arr)
        photometric = "RGB"
    elif "ModalityLUTSequence" in ds:  # non-linear: must run before any averaging
        from pydicom.pixels import apply_modality_lut

        lut_range = apply_modality_lut(np.array([lo, hi]), ds)
        lo, hi = float(lut_range.min()), float(lut_range.max())
        arr = apply_modality_lut(arr, ds).astype(np.float32)

    arr = resize_area(arr, target_size(rows, cols, max_side))
    pixels = np.asarray(arr, dtype=np.float32)
    if not pixels.flags.writeable:  # a view of the file's bytes
        pixels = pixels.copy()

    slope, intercept = _float(ds, "RescaleSlope", 1.0) or 1.0, _float(ds, "RescaleIntercept", 0.0)
    if photometric.startswith("MONOCHROME") and "ModalityLUTSequence" not in ds:
        # a huge slope overflows to inf: load_radiograph refuses non-finite pixels by name,
        # so numpy's warning would only be noise on the terminal
        with np.errstate(over="ignore", invalid="ignore"):
            if slope != 1.0:
                pixels *= slope
            if intercept:
                pixels += intercept
        lo, hi = sorted((lo * slope + intercept, hi * slope + intercept))

    window = _window(ds, signed) if photometric.startswith("MONOCHROME") else None
    if photometric == "MONOCHROME1":
        # Mirror about the middle of the value range the file can hold (not the data's
        # range), so two images of one study stay comparable.
        np.subtract(lo + hi, pixels, out=pixels)
        if window is not None:
            window = (lo + hi - window[0], window[1])

    spacing, spacing_source = _spacing(ds)
    return Decoded(
        pixels=pixels, format="dicom", bit_depth=bits, full_size=(rows, cols),
        spacing=spacing, modality=str(ds.get("Modality", "") or ""), window=window,
        metadata=_metadata(ds, frames, spacing_source),
    )

