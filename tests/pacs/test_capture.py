"""The Secondary Capture: the same picture `hipvision render` draws, as DICOM in the source's study."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import SecondaryCaptureImageStorage

from hipvision.gui.outputs import render_image_file
from hipvision.gui.secondary_capture import secondary_capture
from tests.pacs.test_sr import LANDMARKS, image_id, phantoms, project  # noqa: F401  (fixtures)


def test_capture_is_the_rendered_image_in_the_source_study(project, tmp_path):  # noqa: F811
    dcm = image_id(project, ".dcm")
    project.save_annotation(dcm, LANDMARKS, status="verified")
    rec = project.image(dcm)
    source = pydicom.dcmread(rec.abs_path, stop_before_pixels=True)

    pydicom.dcmwrite(tmp_path / "sc.dcm", secondary_capture(project, dcm), enforce_file_format=True)
    sc = pydicom.dcmread(tmp_path / "sc.dcm")

    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert sc.StudyInstanceUID == source.StudyInstanceUID and sc.PatientID == source.PatientID
    assert sc.SeriesInstanceUID != source.SeriesInstanceUID
    (ref,) = sc.SourceImageSequence
    assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
    rendered = np.asarray(Image.open(render_image_file(project, dcm, tmp_path / "render.png")).convert("RGB"))
    assert sc.pixel_array.shape == (rec.height, rec.width, 3)
    np.testing.assert_array_equal(sc.pixel_array, rendered)
    assert (sc.pixel_array[..., 0] != sc.pixel_array[..., 2]).any()  # the coloured overlay is there


def test_capture_of_an_unreviewed_prediction_is_refused(project):  # noqa: F811
    with pytest.raises(ValueError, match=r"phantom_0000\.dcm .*unreviewed prediction"):
        secondary_capture(project, image_id(project, ".dcm"))
