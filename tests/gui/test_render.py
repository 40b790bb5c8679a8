"""Offscreen rendering with the shared overlay painter."""

import numpy as np
import pytest
from PySide6.QtGui import QColor

from hipvision.annotation.overlay_geometry import SIDE_COLOURS, build_overlay
from hipvision.core.landmarks import Side
from hipvision.core.radiograph import Radiograph
from hipvision.gui.render import render_annotated
from hipvision.phantom import PhantomConfig, render_phantom


def to_rgb(img) -> np.ndarray:
    img = img.convertToFormat(img.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return arr[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def near(rgb: np.ndarray, colour: str, tol: int = 40) -> np.ndarray:
    c = QColor(colour)
    return np.abs(rgb.astype(int) - np.array([c.red(), c.green(), c.blue()])).sum(axis=2) < tol


@pytest.mark.parametrize("max_side", [None, 400])
def test_overlay_lands_on_the_landmarks_at_any_output_size(qapp, max_side):
    case = render_phantom(5, PhantomConfig(size=800))
    px = case.pixels.astype(np.float32)
    rad = Radiograph(pixels=px, path=None, format="png", bit_depth=16, spacing=case.spacing, modality="",
                     window=None, full_size=px.shape)
    plain = to_rgb(render_annotated(rad, None, max_side=max_side))
    img = render_annotated(rad, build_overlay(case.landmarks, case.mapping, "user"), max_side=max_side)
    k = img.width() / px.shape[1]
    assert (img.height(), img.width()) == plain.shape[:2]
    rgb = to_rgb(img)
    assert not np.array_equal(rgb, plain)
    for side in ("left", "right"):
        s = case.landmarks.side(side)
        ys, xs = np.nonzero(near(rgb, SIDE_COLOURS[Side(side)]))
        # Inside the head circle the side colour draws only the centre cross: centred on the head.
        cx, cy = (s.head_x + 0.5) * k, (s.head_y + 0.5) * k
        sel = np.hypot(xs - cx, ys - cy) < 0.6 * s.head_r * k
        assert sel.sum() > 10
        assert (xs[sel].mean(), ys[sel].mean()) == pytest.approx((cx, cy), abs=1.0)
        # ... and the circle at the head radius.
        ring = np.abs(np.hypot(xs - cx, ys - cy) - s.head_r * k) < 2.0
        assert ring.sum() > 2 * s.head_r * k
