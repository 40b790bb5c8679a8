"""The measurement SR as a PACS and another DICOM tool would read it: built from a project of
phantom DICOMs, written to disk, read back with pydicom and highdicom."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.uid import ComprehensiveSRStorage

from hipvision.annotation.overlay_geometry import build_overlay
from hipvision.core.grading import grade_hint, shown_na
from hipvision.core.importer import import_folder
from hipvision.core.landmarks import HipLandmarks, Side, SideLandmarks
from hipvision.core.store import Project
from hipvision.core.units import distance_mm, length_mm
from hipvision.pacs.sent import last_sent, record_sent
from hipvision.pacs.sr import measurement_report
from hipvision.phantom import PhantomConfig, generate_phantoms

# Sub-pixel coordinates and an NA whose second decimal would show if the 0.1° rounding were lost.
LANDMARKS = HipLandmarks(left=SideLandmarks(170.25, 120.0, 20.4, 160.7, 99.3),
                         right=SideLandmarks(80.0, 122.6, 21.1, 91.9, 101.2))
EDITED = LANDMARKS.with_side(Side.LEFT, SideLandmarks(170.25, 120.0, 20.4, 150.2, 96.0))


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sr_phantoms")
    generate_phantoms(out, 1, seed=5, config=PhantomConfig(size=256), fmt="dicom")
    generate_phantoms(out, 1, seed=5, config=PhantomConfig(size=256), fmt="png", start=1)
    return out


@pytest.fixture
def project(tmp_path, phantoms):
    folder = tmp_path / "clinic"
    shutil.copytree(phantoms, folder)
    with Project.open(folder) as p:
        import_folder(p, labels=False)
        model = p.add_model(name="hips-small", backbone="resnet18", file=p.models_dir / "m.safetensors")
        for rec in p.images():
            p.save_prediction(rec.id, LANDMARKS, model_id=model.id)
        yield p


def image_id(project: Project, suffix: str) -> int:
    return next(r.id for r in project.images() if r.path.endswith(suffix))


def written(ds, path: Path):
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return pydicom.dcmread(path), hd.sr.srread(path)


def groups_by_name(sr) -> dict[str, object]:
    return {str(g.tracking_identifier): g for g in sr.content.get_image_measurement_groups()}


def measurement(group, meaning: str):
    found = [m for m in group.get_measurements() if m.name.meaning == meaning]
    assert len(found) == 1, [m.name.meaning for m in group.get_measurements()]
    return found[0]


def referenced_uid(scoord) -> str:
    return scoord.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID


def test_report_round_trip_carries_the_screens_numbers(project, tmp_path):
    dcm = image_id(project, ".dcm")
    project.save_annotation(dcm, LANDMARKS, status="verified")
    rec = project.image(dcm)
    source = pydicom.dcmread(rec.abs_path, stop_before_pixels=True)
    assert rec.spacing is not None

    ds, sr = written(measurement_report(project, dcm, observer="Vet^Anna",
                                        now=dt.datetime(2025, 3, 1, 9, 30)), tmp_path / "sr.dcm")

    # Same study and patient as the radiograph; a new series and instance of Comprehensive SR.
    assert ds.SOPClassUID == ComprehensiveSRStorage
    assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == source.PatientID
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert ds.ContentDate == "20250301"
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99HIPVISION"
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID

    overlay = build_overlay(LANDMARKS, rec.mapping, "verified")
    groups = groups_by_name(sr)
    for side in Side:
        g = groups[f"{side.value} hip"]
        assert g.finding_sites[0].laterality.meaning == side.value.capitalize()
        na = measurement(g, "Norberg angle")
        assert na.unit.value == "deg"
        assert na.value == shown_na(LANDMARKS.norberg_angle(side))
        assert overlay.side(side).label.endswith(f"{na.value:.1f}°")  # the text on the screen
        radius = measurement(g, "Radius")
        assert radius.unit.value == "mm"
        assert radius.value == pytest.approx(round(length_mm(LANDMARKS.side(side).head_r, rec.spacing), 1))
        # SCOORDs on the source image, DICOM pixel convention: the app's pixel centre + 0.5.
        s = LANDMARKS.side(side)
        circle, rim = na.referenced_coordinates
        assert {referenced_uid(circle), referenced_uid(rim)} == {source.SOPInstanceUID}
        assert circle.graphic_type.value == "CIRCLE" and rim.graphic_type.value == "POINT"
        assert circle.value == pytest.approx(np.array([[s.head_x + 0.5, s.head_y + 0.5],
                                                       [s.head_x + s.head_r + 0.5, s.head_y + 0.5]]), abs=1e-4)
        assert rim.value == pytest.approx(np.array([[s.rim_x + 0.5, s.rim_y + 0.5]]), abs=1e-4)
        (grade,) = g.get_qualitative_evaluations()
        assert grade.name.meaning == "Norberg angle grade hint"
        assert grade.value.value == grade_hint(na.value).name

    distance = measurement(groups["femoral head centres"], "Distance")
    assert distance.value == pytest.approx(round(distance_mm(LANDMARKS.left.head, LANDMARKS.right.head,
                                                             rec.spacing), 1))

    observers = {o.observer_type.meaning: o.observer_identifying_attributes for o in sr.content.get_observer_contexts()}
    assert str(observers["Person"].name) == "Vet^Anna"
    assert observers["Device"].name == "hips-small" and observers["Device"].model_name == "resnet18"


def test_resend_after_edit_is_a_new_sr_naming_the_earlier_one(project, tmp_path):
    dcm = image_id(project, ".dcm")
    project.save_annotation(dcm, LANDMARKS, status="verified")
    first = measurement_report(project, dcm)
    assert "PredecessorDocumentsSequence" not in first
    record_sent(project, dcm, first, "http://pacs.local:8042/dicom-web")

    project.save_annotation(dcm, EDITED)  # the vet moves the left rim point afterwards
    ds, sr = written(measurement_report(project, dcm, previous=last_sent(project, dcm)), tmp_path / "sr2.dcm")

    assert ds.SOPInstanceUID != first.SOPInstanceUID
    (study,) = ds.PredecessorDocumentsSequence
    assert study.StudyInstanceUID == first.StudyInstanceUID
    (series,) = study.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == first.SeriesInstanceUID
    (ref,) = series.ReferencedSOPSequence
    assert (ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID) == (first.SOPClassUID, first.SOPInstanceUID)
    left = measurement(groups_by_name(sr)["left hip"], "Norberg angle")
    assert left.value == shown_na(EDITED.norberg_angle(Side.LEFT)) != shown_na(LANDMARKS.norberg_angle(Side.LEFT))
    # The edit is a person's: the author default is the store's "user".
    person = next(o for o in sr.content.get_observer_contexts() if o.observer_type.meaning == "Person")
    assert str(person.observer_identifying_attributes.name) == "user^"


def test_unreviewed_prediction_is_refused(project):
    dcm = image_id(project, ".dcm")
    assert project.image(dcm).status == "predicted"
    with pytest.raises(ValueError, match=r"phantom_0000\.dcm .*unreviewed prediction.*verify or edit") as info:
        measurement_report(project, dcm)
    assert "\n" not in str(info.value)


def test_non_dicom_source_is_refused(project):
    png = image_id(project, ".png")
    project.save_annotation(png, LANDMARKS, status="verified")
    with pytest.raises(ValueError, match=r"phantom_0001\.png .*PNG file, not DICOM"):
        measurement_report(project, png)


def test_without_spacing_the_mm_values_are_left_out(project, tmp_path):
    dcm = image_id(project, ".dcm")
    project.save_annotation(dcm, LANDMARKS, status="verified")
    project.set_spacing(dcm, None)
    _, sr = written(measurement_report(project, dcm), tmp_path / "sr.dcm")
    groups = groups_by_name(sr)
    assert set(groups) == {"left hip", "right hip"}  # no centre-distance group
    for g in groups.values():
        assert [m.name.meaning for m in g.get_measurements()] == ["Norberg angle"]
