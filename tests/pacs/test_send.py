"""`send_datasets` to a real Orthanc over STOW-RS and C-STORE; read back through Orthanc's own REST API."""

from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.uid import Comprehensive3DSRStorage, EnhancedSRStorage, generate_uid

from hipvision.core.jobs import Cancelled, CancelToken
from hipvision.pacs.send import send_datasets
from tests.pacs.conftest import image_bytes, pixels, server_of, sr_dataset

PATIENT = ("Send^Test", "P9")


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_send_round_trips(orthanc, secret, protocol, tmp_path):
    study = generate_uid()
    image = pydicom.dcmread(BytesIO(image_bytes(tmp_path, 40, study=study, series=generate_uid(), patient=PATIENT,
                                                date="20240401", modality="DX", accession="")))
    sr3d = sr_dataset(study, PATIENT, sop_class=Comprehensive3DSRStorage)
    enhanced = sr_dataset(study, PATIENT, sop_class=EnhancedSRStorage)
    del enhanced.file_meta  # as a builder may hand it over: sent as Explicit VR Little Endian
    steps = []
    results = send_datasets(server_of(orthanc, protocol), [image, sr3d, enhanced],
                            progress=lambda done, total, msg: steps.append((done, total)))
    assert [(r.sop_instance_uid, r.ok, r.message) for r in results] == [
        (image.SOPInstanceUID, True, ""), (sr3d.SOPInstanceUID, True, ""), (enhanced.SOPInstanceUID, True, "")]
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert orthanc.instance_uids(study) == {image.SOPInstanceUID, sr3d.SOPInstanceUID, enhanced.SOPInstanceUID}
    back = pydicom.dcmread(BytesIO(orthanc.instance_file(image.SOPInstanceUID)))
    np.testing.assert_array_equal(back.pixel_array, pixels(40))
    back_sr = pydicom.dcmread(BytesIO(orthanc.instance_file(sr3d.SOPInstanceUID)))
    assert back_sr.SOPClassUID == Comprehensive3DSRStorage and back_sr.StudyInstanceUID == study


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_send_stops_when_cancelled(orthanc, secret, protocol):
    study = generate_uid()
    first, second = sr_dataset(study, PATIENT), sr_dataset(study, PATIENT)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        send_datasets(server_of(orthanc, protocol), [first, second], cancel=cancel,
                      progress=lambda done, total, msg: cancel.set())
    assert orthanc.instance_uids(study) == {first.SOPInstanceUID}


def test_send_refuses_a_dataset_without_uids(orthanc):
    ds = sr_dataset(generate_uid(), PATIENT)
    del ds.SOPInstanceUID
    with pytest.raises(ValueError, match="no SOPInstanceUID"):
        send_datasets(server_of(orthanc, "dicomweb"), [ds])
