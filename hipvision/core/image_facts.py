"""The facts about an image a reader wants beside it: file, size, spacing, patient (Qt-free).

Shared by the measurement panel and the PDF report so both name things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from hipvision.core.records import ImageRecord

# DICOM keyword -> label, in display order (the keywords hipvision.core.dicom_io keeps).
PATIENT_FIELDS = (("PatientID", "Patient ID"), ("PatientName", "Patient"), ("PatientSpeciesDescription", "Species"),
                  ("PatientBreedDescription", "Breed"), ("StudyDate", "Study date"),
                  ("StudyDescription", "Study"), ("InstitutionName", "Institution"))


def _date(value: str) -> str:
    v = value.strip()
    return f"{v[:4]}-{v[4:6]}-{v[6:8]}" if len(v) == 8 and v.isdigit() else v


def image_facts(rec: ImageRecord, metadata: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    facts = [("File", rec.path)]
    if rec.width and rec.height:
        size = f"{rec.width} × {rec.height} px"
        if rec.bit_depth:
            size += f", {rec.bit_depth}-bit"
        if rec.modality:
            size += f", {rec.modality}"
        facts.append(("Image", size))
    if rec.spacing:
        facts.append(("Pixel spacing", f"{rec.spacing[1]:.3f} × {rec.spacing[0]:.3f} mm (col × row)"))
    else:
        facts.append(("Pixel spacing", "unknown (distances in px)"))
    if rec.is_synthetic:
        facts.append(("Source", "synthetic (generated) image"))
    meta = metadata or {}
    for key, label in PATIENT_FIELDS:
        value = str(meta.get(key, "")).strip()
        if value:
            facts.append((label, _date(value) if key == "StudyDate" else value.replace("^", " ")))
    return facts
