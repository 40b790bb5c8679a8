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


def small_hips_case():
    """A whole-body view whose pelvis is a tenth of the image: heads ~6 px in radius."""
    case = render_phantom(0, PhantomConfig(size=1024, wide_fraction=1.0))
    assert case.params["pelvis_fraction"] < 0.15
    px = case.pixels.astype(np.float32)
    rad = Radiograph(pixels=px, path=None, format="png", bit_depth=16, spacing=case.spacing, modality="",
                     window=None, full_size=px.shape)
    return case, rad


def test_small_hips_labels_apart_and_landmarks_visible(qapp, monkeypatch):
    from hipvision.gui import overlay_painter

    case, rad = small_hips_case()
    placed = []

    def spy(requests, clearance):
        boxes = overlay_painter_place(requests, clearance)
        placed.append((requests, boxes))
        return boxes

    overlay_painter_place = overlay_painter.place_labels
    monkeypatch.setattr(overlay_painter, "place_labels", spy)
    img = render_annotated(rad, build_overlay(case.landmarks, case.mapping, "user"))
    img.save("/tmp/labels_test_render.png")
    (requests, (a, b)), = placed
    assert not a.intersects(b)
    for box in (a, b):
        for r in requests:  # neither label on a head centre, rim or radius handle of either hip
            assert not any(box.contains(p) for p in r.keep_clear)
    rgb = to_rgb(img)
    for side in ("left", "right"):
        s = case.landmarks.side(side)
        ys, xs = np.nonzero(near(rgb, SIDE_COLOURS[Side(side)]))
        d = np.hypot(xs - (s.head_x + 0.5), ys - (s.head_y + 0.5))
        # The symbols stay within the small head (a 7-px cross on a 6-px head spills far
        # beyond it and buries head and rim): hardly any side colour just outside the outline.
        assert ((d > s.head_r + 3) & (d < s.head_r + 12)).sum() < 10, side
