"""Generated images into the project: a PNG under .hipvision/synthetic/<method>/ plus one
store transaction with the provenance (method, generator, seed, condition, gate score).

The store puts every synthetic image in the training split (a CHECK constraint keeps
validation and test real), so nothing here chooses a split.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

import numpy as np

from hipvision.core.atomic import write_bytes_atomic
from hipvision.core.imagefile import ImageHeader
from hipvision.core.landmarks import HipLandmarks, SideMapping


def run_tag() -> str:
    """A name prefix that keeps the files of two runs apart (and sorts by time)."""
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def encode_png(image: np.ndarray) -> bytes:
    import cv2

    a = np.asarray(image)
    if a.ndim != 2 or a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"generated image must be 2-D uint8/uint16, got {a.dtype} {a.shape}")
    ok, buf = cv2.imencode(".png", a)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def save_generated(project, image: np.ndarray, *, method: str, generator: str, seed: int, name: str,
                   landmarks: HipLandmarks | None, condition: HipLandmarks | None = None,
                   gate_score: float | None = None, label_author: str | None = None,
                   confidence: dict | None = None, mapping: SideMapping | None = None):
    """Write `image` as synthetic/<method>/<name>.png and register it; returns the ImageRecord.

    Labelled generators pass landmarks (author generator:<method>, status verified);
    unlabelled ones pass the model's pre-label with label_author 'model:<id>' (status
    predicted: the review queue)."""
    data = encode_png(image)
    path = project.synthetic_dir / method / f"{name}.png"
    if path.exists():
        raise FileExistsError(f"{path}: a generated image of that name exists already")
    write_bytes_atomic(path, data)
    header = ImageHeader(width=int(image.shape[1]), height=int(image.shape[0]),
                         bit_depth=8 if image.dtype == np.uint8 else 16, format="png")
    if gate_score is not None and not math.isfinite(gate_score):
        gate_score = None
    try:
        rec = project.add_synthetic(path, method=method, generator=generator, seed=int(seed), landmarks=landmarks,
                                    condition=condition, gate_score=gate_score, header=header,
                                    sha256=hashlib.sha256(data).hexdigest(), label_author=label_author,
                                    confidence=confidence, mapping=mapping)
    except BaseException:
        path.unlink(missing_ok=True)  # no orphan file when the row could not be written
        raise
    return rec
