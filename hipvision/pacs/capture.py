"""The annotated radiograph as a DICOM Secondary Capture, in the source's study (Qt-free).

The pixels come from the caller: drawing needs Qt, which this package never imports
(`hipvision.gui.secondary_capture` renders with `hipvision render`'s code and calls this). The
same rules as the SR: a DICOM source, a person's landmarks — an SC is read as a finding too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from highdicom.sc import SCImage
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from hipvision.pacs.sr import read_source, reviewed_annotation

if TYPE_CHECKING:
    from hipvision.core.store import Project

SC_SERIES_NUMBER = 991


def _orientation(header: Dataset) -> tuple[str, str] | None:
    value = header.get("PatientOrientation")
    return (str(value[0]), str(value[1])) if value is not None and len(value) == 2 and all(value) else None


def capture_dataset(project: Project, image_id: int, rgb: np.ndarray) -> Dataset:
    """An SC image of `rgb` (H x W x 3 uint8, the rendered overlay) referencing the source image."""
    rec, _, _ = reviewed_annotation(project, image_id)
    src = read_source(rec)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{rec.path}: the rendered image must be H x W x 3 uint8, got {rgb.dtype} {rgb.shape}")
    orientation = _orientation(src.header)
    common = dict(pixel_array=np.ascontiguousarray(rgb), photometric_interpretation="RGB", bits_allocated=8,
                  coordinate_system="PATIENT", series_instance_uid=generate_uid(), series_number=SC_SERIES_NUMBER,
                  sop_instance_uid=generate_uid(), instance_number=1, manufacturer="HipVision",
                  transfer_syntax_uid=ExplicitVRLittleEndian)
    anatomical = src.header.get("AnatomicalOrientationType") or None
    try:
        sc = SCImage.from_ref_dataset(src.header, patient_orientation=orientation or ("L", "F"),
                                      anatomical_orientation_type=anatomical, **common)
    except ValueError:  # an orientation highdicom does not accept: leave it empty rather than guess
        orientation = None
        sc = SCImage.from_ref_dataset(src.header, patient_orientation=("L", "F"), **common)
    if orientation is None:
        sc.PatientOrientation = ""  # unknown (type 2): never an invented direction on a patient image
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.ConversionType = "WSD"
    sc.BurnedInAnnotation = "NO"  # the overlay draws landmarks and angles, no patient identification
    sc.DerivationDescription = "HipVision: landmarks and Norberg angles drawn over the radiograph"
    sc.SeriesDescription = "HipVision annotated radiograph"
    for keyword in ("PatientSpeciesDescription", "PatientBreedDescription", "ResponsiblePerson"):
        if keyword in src.header and keyword not in sc:
            setattr(sc, keyword, src.header.get(keyword))
    ref = Dataset()
    ref.ReferencedSOPClassUID = src.sop_class_uid
    ref.ReferencedSOPInstanceUID = src.sop_instance_uid
    sc.SourceImageSequence = [ref]
    return sc
