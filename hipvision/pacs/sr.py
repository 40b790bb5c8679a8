"""The DICOM Structured Report of one image's hip measurements (TID 1500), built from a project.

What goes to the patient record is what the screen shows, for numbers a person stands behind:
- only a DICOM source can be referenced (its UIDs), and only an edited or verified annotation
  is reported — a model's unreviewed prediction is refused;
- the Norberg angle is `grading.shown_na` (0.1°), radius and centre distance in mm to 0.1 mm as
  the measurement panel shows them; without a pixel spacing the mm values are left out rather
  than reported in pixels (a PACS would read a bare number next to "Radius" as a length);
- landmarks are SCOORDs on the source image. DICOM puts (0, 0) at the top-left *corner* of the
  first pixel, the app at its *centre*: SCOORD = landmark + 0.5.
The tree and the private codes are described in docs/pacs_sr.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pydicom
from highdicom.sr import (
    CodedConcept,
    ComprehensiveSR,
    CoordinatesForMeasurement,
    DeviceObserverIdentifyingAttributes,
    FindingSite,
    Measurement,
    MeasurementReport,
    MeasurementsAndQualitativeEvaluations,
    ObservationContext,
    ObserverContext,
    PersonObserverIdentifyingAttributes,
    QualitativeEvaluation,
    SourceImageForMeasurementGroup,
    SourceImageForRegion,
    TrackingIdentifier,
)
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from hipvision.core.geometry import GeometryError
from hipvision.core.grading import DEFAULT_THRESHOLDS, Grade, GradeThresholds, grade_hint, shown_na
from hipvision.core.landmarks import HipLandmarks, Side
from hipvision.core.radiograph import detect_format
from hipvision.core.records import LABELLED_STATUSES, Annotation, ImageRecord
from hipvision.core.units import distance_mm, length_mm

if TYPE_CHECKING:
    from hipvision.core.store import Project
    from hipvision.pacs.sent import SentReport

# No standard code exists for the Norberg angle or for a grade hint: a private coding scheme
# ("99" prefix, PS3.16 8.2), declared in the SR's Coding Scheme Identification Sequence.
SCHEME = "99HIPVISION"
SCHEME_NAME = "HipVision measurement codes"
NORBERG_ANGLE = CodedConcept("NA", SCHEME, "Norberg angle")
GRADE_HINT = CodedConcept("GRADE", SCHEME, "Norberg angle grade hint")
GRADE_CODES = {
    Grade.NORMAL: CodedConcept("NORMAL", SCHEME, "Normal (grade hint)"),
    Grade.BORDERLINE: CodedConcept("BORDERLINE", SCHEME, "Borderline (grade hint)"),
    Grade.SUSPECT: CodedConcept("SUSPECT", SCHEME, "Suspect (grade hint)"),
}
LATERALITY = {Side.LEFT: codes.SCT.Left, Side.RIGHT: codes.SCT.Right}
HEAD_RADIUS = codes.SCT.Radius  # CID 7470 linear measurement, of the group's head circle
CENTRE_DISTANCE = codes.DCM.Distance
SR_SERIES_NUMBER = 990
MM_DECIMALS = 1  # as the measurement panel shows them


@dataclass(frozen=True)
class SourceImage:
    """What the report needs from the source DICOM's header (read without pixels)."""

    header: Dataset
    sop_class_uid: str
    sop_instance_uid: str
    frames: int


def _image_line(rec: ImageRecord) -> str:
    return f"{rec.path} (image {rec.id})"


def reviewed_annotation(project: Project, image_id: int) -> tuple[ImageRecord, Annotation, HipLandmarks]:
    """The image and its current annotation when a person stands behind it; else a ValueError
    naming the image. A report of unreviewed numbers must not reach the patient record."""
    rec = project.image(image_id)
    ann = project.current_annotation(image_id)
    if ann is None or ann.landmarks is None:
        raise ValueError(f"{_image_line(rec)}: no landmarks to report")
    if rec.status not in LABELLED_STATUSES or ann.author.startswith(("model:", "generator:")):
        raise ValueError(f"{_image_line(rec)}: the landmarks are a model's unreviewed prediction "
                         f"(status {rec.status}, by {ann.author}); verify or edit them before sending")
    return rec, ann, ann.landmarks


def read_source(rec: ImageRecord) -> SourceImage:
    """The source's header, refusing a source that is not a referenceable DICOM image."""
    where = _image_line(rec)
    if rec.error:
        raise ValueError(f"{where}: the file is unreadable ({rec.error})")
    try:
        fmt = detect_format(rec.abs_path)
    except OSError as exc:
        raise ValueError(f"{where}: cannot read {rec.abs_path}: {exc.strerror or exc}") from None
    if fmt != "dicom":
        raise ValueError(f"{where}: the source is a {fmt.upper()} file, not DICOM; a structured report "
                         "can only reference a DICOM image the PACS holds")
    try:
        header = pydicom.dcmread(rec.abs_path, stop_before_pixels=True, force=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise ValueError(f"{where}: cannot read the DICOM header of {rec.abs_path}: {exc}") from None
    missing = [k for k in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
               if not header.get(k)]
    if missing:
        raise ValueError(f"{where}: the DICOM file lacks {', '.join(missing)}, so a report cannot reference it")
    rows, cols = int(header.get("Rows", 0)), int(header.get("Columns", 0))
    if rec.width and rec.height and (cols, rows) != (rec.width, rec.height):
        raise ValueError(f"{where}: the file is now {cols}x{rows} px, the project has it as "
                         f"{rec.width}x{rec.height}; rescan the project before sending")
    # The SR copies the patient and study modules from here; type-2 attributes may be absent
    # in the wild and must then be present, empty.
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
                    "StudyDate", "StudyTime", "ReferringPhysicianName"):
        if keyword not in header:
            setattr(header, keyword, "")
    return SourceImage(header, str(header.SOPClassUID), str(header.SOPInstanceUID),
                       int(header.get("NumberOfFrames", 1) or 1))


def _scoord(x: float, y: float) -> list[float]:
    return [x + 0.5, y + 0.5]  # app: integers at pixel centres; DICOM: at pixel corners


def _side_group(lm: HipLandmarks, side: Side, src: SourceImage, region_ref: SourceImageForRegion,
                spacing: tuple[float, float] | None, thresholds: GradeThresholds, where: str
                ) -> MeasurementsAndQualitativeEvaluations:
    """One hip. An image-level group (TID 1501), not a planar-ROI one (TID 1410): a planar ROI
    group holds one region and no per-measurement coordinates, and the NA needs two (the head
    circle and the rim point), each a SCOORD on the measurement it defines."""
    s = lm.side(side)
    try:
        na = shown_na(lm.norberg_angle(side))
    except GeometryError as exc:
        raise ValueError(f"{where}: {exc}; correct the landmarks before sending") from None
    # CIRCLE: the centre, then a point on the circle (to the right of the centre).
    head = CoordinatesForMeasurement(
        graphic_type="CIRCLE", source_image=region_ref,
        graphic_data=np.array([_scoord(s.head_x, s.head_y), _scoord(s.head_x + s.head_r, s.head_y)], dtype=float))
    rim = CoordinatesForMeasurement(graphic_type="POINT", graphic_data=np.array([_scoord(*s.rim)], dtype=float),
                                    source_image=region_ref)
    measurements = [Measurement(name=NORBERG_ANGLE, value=na, unit=codes.UCUM.Degree,
                                referenced_coordinates=[head, rim])]
    if spacing is not None:
        measurements.append(Measurement(name=HEAD_RADIUS, value=round(length_mm(s.head_r, spacing), MM_DECIMALS),
                                        unit=codes.UCUM.Millimeter, referenced_coordinates=[head],
                                        finding_sites=[FindingSite(codes.SCT.FemoralHead, LATERALITY[side])]))
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier=f"{side.value} hip"),
        finding_sites=[FindingSite(codes.SCT.HipJoint, LATERALITY[side])],
        measurements=measurements,
        qualitative_evaluations=[QualitativeEvaluation(GRADE_HINT, GRADE_CODES[grade_hint(na, thresholds)])],
        source_images=[SourceImageForMeasurementGroup(src.sop_class_uid, src.sop_instance_uid)],
    )


def _pair_group(lm: HipLandmarks, src: SourceImage, region_ref: SourceImageForRegion,
                spacing: tuple[float, float]) -> MeasurementsAndQualitativeEvaluations:
    """The head-centre distance belongs to the pair, not to one hip: its own image-level group,
    so no reader counts it twice."""
    line = np.array([_scoord(*lm.right.head), _scoord(*lm.left.head)], dtype=float)
    distance = Measurement(
        name=CENTRE_DISTANCE, value=round(distance_mm(lm.left.head, lm.right.head, spacing), MM_DECIMALS),
        unit=codes.UCUM.Millimeter, finding_sites=[FindingSite(codes.SCT.FemoralHead)],
        referenced_coordinates=[CoordinatesForMeasurement(graphic_type="POLYLINE", graphic_data=line,
                                                          source_image=region_ref)])
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier="femoral head centres"),
        measurements=[distance],
        source_images=[SourceImageForMeasurementGroup(src.sop_class_uid, src.sop_instance_uid)],
    )


def _observers(project: Project, image_id: int, ann: Annotation, observer: str | None) -> ObservationContext:
    # The person who stands behind the numbers; the app records "user" or "import:<file>", so the
    # caller passes the reader's name when it knows it. PN needs a caret to mark the family name.
    name = observer or ann.author
    person = ObserverContext(codes.DCM.Person, PersonObserverIdentifyingAttributes(
        name=name if "^" in name else f"{name}^"))
    device = None
    prediction = project.latest_model_annotation(image_id)
    if prediction is not None:
        model_id = prediction.author.split(":", 1)[1]
        model = None
        if model_id.isdigit():
            model = next((m for m in project.models() if m.id == int(model_id)), None)
        # A stable UID per model: the same model is the same device in every report.
        uid = generate_uid(entropy_srcs=["hipvision-model", model_id, model.file if model else "",
                                         model.created_at if model else ""])
        device = ObserverContext(codes.DCM.Device, DeviceObserverIdentifyingAttributes(
            uid=uid, name=model.name if model else prediction.author, manufacturer_name="HipVision",
            model_name=model.backbone if model else None))
    return ObservationContext(observer_person_context=person, observer_device_context=device)


def _coding_scheme_item() -> Dataset:
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "HipVision"
    return item


def _predecessor(previous: SentReport) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = previous.sop_class_uid
    ds.SOPInstanceUID = previous.sop_uid
    ds.SeriesInstanceUID = previous.series_uid
    ds.StudyInstanceUID = previous.study_uid
    return ds


def measurement_report(project: Project, image_id: int, *, previous: SentReport | None = None,
                       now: dt.datetime | None = None, observer: str | None = None,
                       thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Dataset:
    """A Comprehensive SR (TID 1500) of the image's reviewed landmarks, in the source's study.

    `previous`: the SR sent earlier for this image (`pacs.sent.last_sent`), named as the
    predecessor document so the PACS keeps both. `observer`: the reader's name (DICOM PN,
    "Family^Given"); default the annotation's author. `thresholds`: the user's grade hints."""
    from hipvision import __version__

    rec, ann, lm = reviewed_annotation(project, image_id)
    where = _image_line(rec)
    src = read_source(rec)
    region_ref = SourceImageForRegion(src.sop_class_uid, src.sop_instance_uid,
                                      referenced_frame_numbers=[1] if src.frames > 1 else None)
    groups: list = [_side_group(lm, side, src, region_ref, rec.spacing, thresholds, where)
                    for side in (Side.RIGHT, Side.LEFT)]
    if rec.spacing is not None:
        groups.append(_pair_group(lm, src, region_ref, rec.spacing))
    report = MeasurementReport(
        observation_context=_observers(project, image_id, ann, observer),
        procedure_reported=codes.SCT.PlainRadiography,
        imaging_measurements=groups,
    )
    sr = ComprehensiveSR(
        evidence=[src.header],
        content=report[0],
        series_instance_uid=generate_uid(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="HipVision",
        is_complete=True,
        is_final=True,
        previous_versions=None if previous is None else [_predecessor(previous)],
        series_description="HipVision Norberg angle report",
        software_versions=str(__version__),
    )
    sr.CodingSchemeIdentificationSequence = [_coding_scheme_item()]
    when = now or dt.datetime.now().astimezone()
    sr.ContentDate = sr.SeriesDate = when.strftime("%Y%m%d")
    sr.ContentTime = sr.SeriesTime = when.strftime("%H%M%S.%f")
    return sr
