"""The annotated radiograph as a DICOM Secondary Capture: drawn by `hipvision render`'s code
(gui.outputs.annotated_image), packed by the Qt-free pacs.capture."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from PySide6.QtGui import QImage

from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.store import Project
from hipvision.gui.outputs import annotated_image
from hipvision.pacs.capture import capture_dataset
from hipvision.pacs.sr import read_source, reviewed_annotation


def qimage_rgb(image: QImage) -> np.ndarray:
    """An (H, W, 3) uint8 copy of a QImage (rows are padded to 4 bytes in Qt's buffer)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w = rgb.height(), rgb.width()
    rows = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.bytesPerLine() * h).reshape(h, -1)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def secondary_capture(project: Project, image_id: int, *, thresholds: GradeThresholds = DEFAULT_THRESHOLDS,
                      invert: bool = False, max_side: int | None = None) -> Dataset:
    """The SC of one reviewed DICOM image, at full size unless `max_side` shrinks it."""
    rec, _, _ = reviewed_annotation(project, image_id)
    read_source(rec)  # refuse a non-DICOM source before spending time on drawing it
    image = annotated_image(project, image_id, invert=invert, max_side=max_side, thresholds=thresholds)
    return capture_dataset(project, image_id, qimage_rgb(image))
