"""Write a grayscale image as a DICOM Secondary Capture file (phantoms, exports).

Secondary Capture rather than DX "For Presentation": the DX IOD makes a dozen acquisition
modules mandatory (detector, exposure, anatomy codes) that a phantom or an export cannot
fill truthfully; SC accepts any Modality value, so `Modality=DX` still tells viewers what
the image is. UIDs are derived from the content, so the same phantom written twice is the
same file byte for byte (reproducible test data and hashes).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import numpy as np

from hipvision.core.atomic import atomic_path

COMPRESSIONS = (None, "jpeg2000", "rle")
IMPLEMENTATION_VERSION = "HIPVISION_1"


def _validate(pixels, spacing, window, photometric, compress, bits_stored) -> tuple[np.ndarray, int]:
    arr = np.asarray(pixels)
    if arr.ndim != 2 or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels: expected a 2-D uint8 or uint16 array, got {arr.dtype} {arr.shape}")
    if min(arr.shape) < 1 or max(arr.shape) > 65535:
        raise ValueError(f"pixels: size {arr.shape} outside 1..65535 per side")
    if spacing is not None and (
        len(spacing) != 2 or not all(math.isfinite(float(s)) and float(s) > 0 for s in spacing)
    ):
        raise ValueError(f"spacing: expected (row, col) mm > 0 or None, got {spacing!r}")
    if window is not None and (len(window) != 2 or not float(window[1]) > 0):
        raise ValueError(f"window: expected (centre, width > 0) or None, got {window!r}")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric: expected MONOCHROME1 or MONOCHROME2, got {photometric!r}")
    if compress not in COMPRESSIONS:
        raise ValueError(f"compress: expected one of {COMPRESSIONS}, got {compress!r}")
    if compress == "jpeg2000" and min(arr.shape) < 32:  # OpenJPEG's 6 wavelet levels need 2**5 px
        raise ValueError(f"compress: 'jpeg2000' needs >= 32 px per side, got {arr.shape}; use 'rle'")
    allocated = arr.dtype.itemsize * 8
    bits = allocated if bits_stored is None else int(bits_stored)
    if not 1 <= bits <= allocated:
        raise ValueError(f"bits_stored: {bits_stored} does not fit {arr.dtype} ({allocated} bits)")
    if bits < allocated and int(arr.max()) >= 1 << bits:
        raise ValueError(f"bits_stored: {bits} bits cannot hold the maximum pixel value {int(arr.max())}")
    return np.ascontiguousarray(arr), bits


def _ds_number(value: float) -> str:
    """A DS (decimal string, max 16 chars) that round-trips the float as closely as fits."""
    for digits in range(10, 3, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.4g}"


def _set_image(ds, arr: np.ndarray, bits: int, photometric: str, spacing: tuple[float, float] | None,
               window: tuple[float, float] | None) -> None:
    """The image pixel module: geometry, bit layout, calibration, window and the pixel data."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if spacing is not None:
        ds.PixelSpacing = [_ds_number(float(spacing[0])), _ds_number(float(spacing[1]))]
    if window is not None:
        ds.WindowCenter = _ds_number(float(window[0]))
        ds.WindowWidth = _ds_number(float(window[1]))
    ds.LossyImageCompression = "00"
    data = arr.astype("<u2" if arr.dtype == np.uint16 else np.uint8, copy=False).tobytes()
    ds.PixelData = data + b"\x00" * (len(data) % 2)  # OB/OW values have even length


def _file_meta(instance_uid):
    """The file meta group of a Secondary Capture written as Explicit VR Little Endian."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    return meta


def write_dicom(
    path,
    pixels: np.ndarray,
    *,
    spacing: tuple[float, float] | None,
    patient_id: str = "PHANTOM",
    patient_name: str = "Phantom^Dog",
    modality: str = "DX",
    window: tuple[float, float] | None = None,
    photometric: str = "MONOCHROME2",
    compress: str | None = None,
    extra: dict | None = None,
    bits_stored: int | None = None,
) -> Path:
    """Write `pixels` (H x W, uint8 or uint16, stored values as given) atomically; return the path.

    `window` is (centre, width) in stored-value units. With photometric MONOCHROME1 the
    stored values are shown inverted (low = white), as a DICOM viewer would. `compress`:
    None (Explicit VR Little Endian), "jpeg2000" (lossless, pylibjpeg-openjpeg) or "rle".
    `extra` maps DICOM keywords to values (e.g. {"StudyDate": "20240101"}) and wins over
    the defaults. `bits_stored` defaults to the array's width (8 or 16).
    """
    import pydicom
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataset import Dataset
    from pydicom.uid import (
        JPEG2000Lossless,
        RLELossless,
        generate_uid,
    )

    arr, bits = _validate(pixels, spacing, window, photometric, compress, bits_stored)
    extra = dict(extra or {})
    unknown = [k for k in extra if tag_for_keyword(k) is None]
    if unknown:
        raise ValueError(f"extra: unknown DICOM keyword(s) {unknown}")

    digest = hashlib.sha256(arr.tobytes())
    digest.update(repr((arr.shape, spacing, patient_id, patient_name, modality, window,
                        photometric, bits, sorted((k, str(v)) for k, v in extra.items()))).encode())
    content_id = digest.hexdigest()

    meta = _file_meta(generate_uid(entropy_srcs=["instance", content_id]))

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: owners' and clinics' names are not ASCII
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["study", content_id])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["series", content_id])
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyDate = ds.StudyTime = ds.ReferringPhysicianName = ds.StudyID = ds.AccessionNumber = ""
    ds.Modality = modality
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ConversionType = "SYN"  # synthetic; an export of a scanned image passes extra={"ConversionType": "WSD"}
    ds.PatientOrientation = ""
    ds.BurnedInAnnotation = "NO"
    _set_image(ds, arr, bits, photometric, spacing, window)
    for keyword, value in extra.items():
        setattr(ds, keyword, value)

    if compress == "jpeg2000":
        ds.compress(JPEG2000Lossless, arr, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    elif compress == "rle":
        ds.compress(RLELossless, arr, generate_instance_uid=False)

    path = Path(os.fspath(path))
    with atomic_path(path) as tmp:
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
    return path
