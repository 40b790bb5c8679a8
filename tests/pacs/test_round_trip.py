"""Issue #18's round trip against a real Orthanc: a phantom DICOM uploaded as the X-ray unit would,
found by `pacs query`, fetched by `pacs retrieve`, predicted by the bundled model, verified by the
vet, and sent back by `pacs send`: the SR is in Orthanc, references the image and carries the NA the
screen shows; a re-send after an edit is a new SR naming the first."""

from __future__ import annotations

import json
from io import BytesIO

import highdicom as hd
import pydicom
import pytest

from hipvision.cli import main
from hipvision.core.grading import shown_na
from hipvision.core.landmarks import Side
from hipvision.core.store import Project
from hipvision.ml.app_jobs import PredictJob, predict_images
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.pacs.conftest import cli_server


def _sr_values(data: bytes) -> tuple[dict[str, float], set[str], list[str]]:
    """NA per side, the SOP instances its SCOORDs point at, and its predecessors — as highdicom reads it."""
    ds = pydicom.dcmread(BytesIO(data))
    sr = hd.sr.ComprehensiveSR.from_dataset(ds, copy=True)
    na, refs = {}, set()
    for group in sr.content.get_image_measurement_groups():
        for m in group.get_measurements():
            if m.name.value == "NA":
                na[str(group.tracking_identifier).replace(" hip", "")] = float(m.value)
                for region in m.referenced_coordinates or []:
                    refs.add(region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    preds = [item.ReferencedSOPInstanceUID
             for study in ds.get("PredecessorDocumentsSequence", [])
             for series in study.ReferencedSeriesSequence for item in series.ReferencedSOPSequence]
    return na, refs, preds


def _in_pacs_then_retrieved(orthanc, tmp_path, seed: int, protocol: str):
    """A phantom DICOM as the X-ray unit stores it, fetched into the clinic's project folder."""
    unit = tmp_path / "unit"
    (source,) = generate_phantoms(unit, 1, seed=seed, config=PhantomConfig(size=256), fmt="dicom")
    meta = pydicom.dcmread(source, stop_before_pixels=True)
    orthanc.upload(source.read_bytes())
    clinic = tmp_path / "clinic"
    server = cli_server(orthanc, protocol)
    assert main(["pacs", "retrieve", *server, "--study", meta.StudyInstanceUID, "--into", str(clinic),
                 "--quiet"]) == 0
    return unit, meta, clinic, server


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_from_study_in_pacs_to_sr_in_pacs(orthanc, secret, tmp_path, protocol, capsys):
    unit = tmp_path / "unit"
    (source,) = generate_phantoms(unit, 1, seed=41 if protocol == "dicomweb" else 42,
                                  config=PhantomConfig(size=256), fmt="dicom")
    meta = pydicom.dcmread(source, stop_before_pixels=True)
    orthanc.upload(source.read_bytes())
    server = cli_server(orthanc, protocol)

    assert main(["pacs", "query", *server, "--patient-id", str(meta.PatientID), "--modality", "any", "--json"]) == 0
    studies = json.loads(capsys.readouterr().out)
    assert meta.StudyInstanceUID in [s["study_uid"] for s in studies]

    clinic = tmp_path / "clinic"
    assert main(["pacs", "retrieve", *server, "--study", meta.StudyInstanceUID, "--into", str(clinic),
                 "--quiet"]) == 0
    predicted = predict_images(PredictJob(str(clinic)))
    assert len(predicted.predicted) == 1
    with Project.open(clinic) as project:
        (rec,) = project.images()
        lm = project.current_annotation(rec.id).landmarks
        project.save_annotation(rec.id, lm, author="user", status="verified")  # the vet presses V
        screen = {side.value: shown_na(lm.norberg_angle(side)) for side in Side}

    capsys.readouterr()
    assert main(["pacs", "send", str(clinic), *server, "--observer", "Vet^Anna", "--quiet"]) == 0
    out = capsys.readouterr().out
    in_pacs = orthanc.instance_uids(meta.StudyInstanceUID) - {meta.SOPInstanceUID}
    assert len(in_pacs) == 1, out
    (first,) = in_pacs
    na, refs, preds = _sr_values(orthanc.instance_file(first))
    assert na == pytest.approx(screen, abs=1e-9)  # the very numbers the screen shows (0.1 deg)
    assert refs == {meta.SOPInstanceUID} and preds == []
    assert f"SR {first}" in out

    # The vet moves a rim point and sends again: a second SR that names the first; both stay in the PACS.
    with Project.open(clinic) as project:
        moved = lm.with_side(Side.LEFT, lm.left.moved(dx=4.0, dy=-3.0))
        project.save_annotation(rec.id, moved, author="user")
        edited = {side.value: shown_na(moved.norberg_angle(side)) for side in Side}
    assert main(["pacs", "send", str(clinic), *server, "--quiet"]) == 0
    now = orthanc.instance_uids(meta.StudyInstanceUID) - {meta.SOPInstanceUID}
    (second,) = now - {first}
    na2, refs2, preds2 = _sr_values(orthanc.instance_file(second))
    assert na2 == pytest.approx(edited, abs=1e-9) and na2 != na
    assert refs2 == {meta.SOPInstanceUID} and preds2 == [first]


def test_send_refuses_an_unreviewed_prediction_and_sends_nothing(orthanc, secret, tmp_path, capsys):
    _unit, meta, clinic, server = _in_pacs_then_retrieved(orthanc, tmp_path, 43, "dicomweb")
    predict_images(PredictJob(str(clinic)))
    with Project.open(clinic) as project:
        (rec,) = project.images()
    assert main(["pacs", "send", str(clinic), *server, "--images", rec.name, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"not sent: {rec.name}: " in err and "Traceback" not in err
    assert orthanc.instance_uids(meta.StudyInstanceUID) == {meta.SOPInstanceUID}


def test_send_with_the_secondary_capture_stores_the_annotated_image_too(orthanc, secret, tmp_path, capsys):
    unit, meta, clinic, server = _in_pacs_then_retrieved(orthanc, tmp_path, 44, "dimse")
    with Project.open(clinic) as project:  # no model here: the vet placed the hips (the phantom's truth)
        (rec,) = project.images()
        from hipvision.core.interchange import load_coco

        (item,) = load_coco(unit / "annotations.json").items
        project.save_annotation(rec.id, item.landmarks, author="user", status="verified", mapping=item.mapping)
    assert main(["pacs", "send", str(clinic), *server, "--secondary-capture", "--quiet"]) == 0
    new = orthanc.instance_uids(meta.StudyInstanceUID) - {meta.SOPInstanceUID}
    assert len(new) == 2
    sc = [pydicom.dcmread(BytesIO(orthanc.instance_file(uid))) for uid in new]
    (capture,) = [ds for ds in sc if ds.Modality != "SR"]
    assert capture.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
    assert capture.SourceImageSequence[0].ReferencedSOPInstanceUID == meta.SOPInstanceUID
    rgb = capture.pixel_array
    assert rgb.shape == (meta.Rows, meta.Columns, 3) and rgb.std() > 0
    # the overlay is drawn: somewhere the three channels differ (the grey radiograph alone never does)
    assert (rgb[..., 0].astype(int) - rgb[..., 2].astype(int)).any()
