"""PDF report, one A4 page per image: file and patient facts, the annotated radiograph (drawn
by the same overlay painter as the canvas), the NA table with grade hints, and the date."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

import hipvision
from hipvision.annotation.landmark_edit import hips_box
from hipvision.annotation.overlay_geometry import build_overlay
from hipvision.annotation.state import load_state
from hipvision.core.atomic import atomic_path
from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.image_facts import image_facts
from hipvision.core.radiograph import Radiograph, RadiographError, load_radiograph
from hipvision.core.store import Project
from hipvision.core.units import distance_mm, length_mm
from hipvision.gui.overlay_painter import OverlayStyle
from hipvision.gui.render import ensure_gui_application, render_annotated

DPI = 200
DISCLAIMER = ("Grade hints follow the Norberg angle thresholds set in HipVision "
              "(normal ≥ {n:g}°, borderline ≥ {b:g}°). "
              "BVA-style points: 0 at ≥ 105°, one per started 5° below, at most 6 (a fixed rule). They support "
              "the veterinarian's reading and are not a diagnosis.")
WATERMARK = "UNREVIEWED — NOT A MEASUREMENT"
WATERMARK_COLOUR = QColor(211, 47, 47, 70)  # translucent red: the page stays readable under it


def review_notice(state) -> str | None:
    """Why a page is not a finished measurement, or None when a person stands behind it."""
    if state.landmarks is None or state.kind in ("user", "verified"):
        return None
    who = state.author or "the model"
    if state.kind == "flagged":
        return (f"Doubtful prediction by {who}, not reviewed: {state.assessment.summary()}. "
                "No grade or points are given.")
    return f"Prediction by {who}, not reviewed by a person."


def _watermark(painter: QPainter, W: float, H: float) -> None:
    painter.save()
    painter.translate(W / 2, H / 2)
    painter.rotate(-math.degrees(math.atan2(H, W)))
    f = _font(30, True)
    painter.setFont(f)
    # Fit the text to ~85 % of the page diagonal, whatever the resolution.
    width = painter.fontMetrics().horizontalAdvance(WATERMARK)
    f.setPointSizeF(30 * 0.85 * (W * W + H * H) ** 0.5 / max(width, 1))
    painter.setFont(f)
    painter.setPen(QPen(WATERMARK_COLOUR))
    painter.drawText(QRectF(-W, -H / 8, 2 * W, H / 4), Qt.AlignmentFlag.AlignCenter, WATERMARK)
    painter.restore()


def _font(pt: float, bold: bool = False) -> QFont:
    f = QFont("Helvetica")
    f.setPointSizeF(pt)
    f.setBold(bold)
    return f


def write_report(project: Project, image_ids: Sequence[int], out: str | Path, *,
                 thresholds: GradeThresholds = DEFAULT_THRESHOLDS,
                 loader: Callable[[Path], Radiograph] = load_radiograph,
                 progress=None) -> Path:
    """Write the report atomically; returns its path. One page per image, in the given order."""
    if not image_ids:
        raise ValueError("report: no images selected")
    ensure_gui_application()
    out = Path(out)
    stamp = datetime.now().astimezone()
    with atomic_path(out) as tmp:
        writer = QPdfWriter(str(tmp))
        writer.setResolution(DPI)
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
        writer.setTitle(f"HipVision Norberg angle report — {project.root.name}")
        writer.setCreator(f"HipVision {hipvision.__version__}")
        painter = QPainter(writer)
        try:
            for page, image_id in enumerate(image_ids):
                if page:
                    writer.newPage()
                _page(painter, writer.width(), writer.height(), project, image_id, thresholds, loader, stamp,
                      page + 1, len(image_ids))
                if progress is not None:
                    progress(page + 1, len(image_ids), project.image(image_id).path)
        finally:
            painter.end()
    return out


def report_page_image(project: Project, image_id: int, *, dpi: int = 100,
                      thresholds: GradeThresholds = DEFAULT_THRESHOLDS,
                      loader: Callable[[Path], Radiograph] = load_radiograph) -> QImage:
    """One report page drawn on an image instead of a PDF (a preview; the same drawing code)."""
    ensure_gui_application()
    margin = round(15 / 25.4 * dpi)
    full = QImage(round(210 / 25.4 * dpi), round(297 / 25.4 * dpi), QImage.Format.Format_RGB32)
    full.fill(QColor("#ffffff"))
    dpm = round(dpi / 0.0254)
    full.setDotsPerMeterX(dpm)
    full.setDotsPerMeterY(dpm)
    painter = QPainter(full)
    try:
        painter.translate(margin, margin)
        _page(painter, full.width() - 2 * margin, full.height() - 2 * margin, project, image_id, thresholds, loader,
              datetime.now().astimezone(), 1, 1, dpi=dpi)
    finally:
        painter.end()
    return full


def _draw_views(painter: QPainter, rad, state, thresholds: GradeThresholds, page, top: float, y: float,
                thumb) -> float:
    """The whole radiograph (top right) and the large view of both hips below; returns the new y."""
    W, H, mm, dpi = page
    thumb_w, thumb_h = thumb
    lm, rec = state.landmarks, state.image
    full_w, full_h = rad.full_size[1], rad.full_size[0]
    overlay = build_overlay(lm, rec.mapping, state.kind, thresholds) if lm is not None else None
    region = hips_box(lm, full_w, full_h) if lm is not None else None
    # Each image is rendered at the size it is printed, so the overlay has print sizes.
    k = min(thumb_w / full_w, thumb_h / full_h)
    tx, tw, th = W - full_w * k, full_w * k, full_h * k
    painter.drawImage(QRectF(tx, top, tw, th),
                      render_annotated(rad, None if region else overlay, max_side=max(16, round(max(tw, th)))))
    if region is not None:  # where the large view below is taken from
        painter.setPen(QPen(QColor("#ffd54f"), max(1.0, 0.35 * mm)))
        painter.drawRect(QRectF(tx + (region[0] + 0.5) * k, top + (region[1] + 0.5) * k,
                                (region[2] - region[0]) * k, (region[3] - region[1]) * k))
    y = max(y, top + th) + 4 * mm
    if region is not None:
        rw, rh = region[2] - region[0], region[3] - region[1]
        k = min(W / rw, 0.45 * H / rh)
        w, h = rw * k, rh * k
        painter.drawImage(QRectF((W - w) / 2, y, w, h),
                          render_annotated(rad, overlay, region=region, max_side=max(16, round(max(w, h))),
                                           style=OverlayStyle.for_print(dpi), enlarge=True))
        y += h + 4 * mm
    return y


def _page(painter: QPainter, W: float, H: float, project: Project, image_id: int, thresholds: GradeThresholds,
          loader, stamp: datetime, page: int, pages: int, *, dpi: int = DPI) -> None:
    mm = dpi / 25.4
    state = load_state(project, image_id)
    rec = state.image
    y = 0.0

    def line(text: str, pt: float, *, bold=False, colour="#000000", height=None, x=0.0, width=None) -> float:
        nonlocal y
        painter.setFont(_font(pt, bold))
        painter.setPen(QPen(QColor(colour)))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        w = width or W - x
        # Wrapped text (a long path) takes as many lines as it needs.
        needed = painter.boundingRect(QRectF(x, y, w, 1e6), flags, text).height()
        h = height or max(painter.fontMetrics().height(), needed)
        h *= 1.1
        painter.drawText(QRectF(x, y, w, h), flags, text)
        y += h
        return h

    line("Norberg angle report", 18, bold=True)
    line(f"HipVision {hipvision.__version__} · {stamp:%Y-%m-%d %H:%M %Z} · page {page} of {pages}", 9, colour="#555555")
    y += 3 * mm

    rad, reason = None, rec.error
    if not reason:
        try:
            rad = loader(rec.abs_path)
        except RadiographError as exc:
            reason = exc.reason
    facts = image_facts(rec, rad.metadata if rad is not None else None)
    facts.insert(1, ("Project", str(project.root)))
    author = state.author or "—"
    facts.append(("Annotation", f"{rec.status} · {author} · {(state.created_at or 'no revision')[:19]}"))
    lm = state.landmarks
    thumb_w, thumb_h = 0.28 * W, 62 * mm  # the whole radiograph, top right, beside the facts
    top = y
    col = 34 * mm
    for label, value in facts:
        row = y
        line(label, 9.5, bold=True, width=col)
        y = row
        line(value, 9.5, x=col, width=W - thumb_w - col - 4 * mm)

    if rad is None:
        y += 3 * mm
        line(f"The image could not be read: {reason}", 11, colour="#c62828")
    else:
        y = _draw_views(painter, rad, state, thresholds, (W, H, mm, dpi), top, y, (thumb_w, thumb_h))

    notice = review_notice(state)
    if lm is None:
        line("No landmarks: this image has not been annotated.", 11, colour="#c62828")
    else:
        if notice:
            line(notice, 10.5, bold=True, colour="#c62828")
        _na_table(painter, lm, rec, state.kind, thresholds, y, W, mm)
    painter.setFont(_font(8))
    painter.setPen(QPen(QColor("#555555")))
    text = DISCLAIMER.format(n=thresholds.normal_min, b=thresholds.borderline_min)
    painter.drawText(QRectF(0, H - 14 * mm, W, 14 * mm), Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap, text)
    if notice:
        _watermark(painter, W, H)  # last, over everything: a printed guess must not pass as a result


def _na_table(painter: QPainter, lm, rec, kind: str, thresholds: GradeThresholds, y: float, W: float,
              mm: float) -> None:
    overlay = build_overlay(lm, rec.mapping, kind, thresholds)
    headers = ("Hip", "Norberg angle", "Grade hint", "BVA-style points", "Head radius")
    widths = (0.22, 0.18, 0.16, 0.2, 0.24)
    row_h = 8 * mm
    xs = [0.0]
    for w in widths:
        xs.append(xs[-1] + w * W)

    def cells(values, top, *, bold=False, colours=None):
        painter.setFont(_font(10.5, bold))
        for i, v in enumerate(values):
            painter.setPen(QPen(QColor((colours or {}).get(i, "#000000"))))
            painter.drawText(QRectF(xs[i] + 2 * mm, top, xs[i + 1] - xs[i] - 2 * mm, row_h),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, v)
        painter.setPen(QPen(QColor("#bdbdbd"), 1))
        painter.drawLine(0, int(top + row_h), int(W), int(top + row_h))

    cells(headers, y, bold=True)
    for k, s in enumerate(overlay.sides, start=1):
        radius = f"{s.radius:.1f} px"
        if rec.spacing:
            radius += f" ({length_mm(s.radius, rec.spacing):.1f} mm)"
        na = f"{s.na:.1f}°" if s.na is not None else "undefined"
        cells((f"{s.side.value.capitalize()} ({s.image_side.replace('_', ' ')})", na,
               s.grade.value if s.grade else "—", "—" if s.bva is None else str(s.bva), radius),
              y + k * row_h, colours={1: s.grade_colour, 2: s.grade_colour})
    d = f"{lm.centre_distance_px():.1f} px"
    if rec.spacing:
        d += f" ({distance_mm(lm.left.head, lm.right.head, rec.spacing):.1f} mm)"
    top = y + 3 * row_h
    painter.setFont(_font(10.5))
    painter.setPen(QPen(QColor("#000000")))
    painter.drawText(QRectF(2 * mm, top, W - 4 * mm, row_h), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                     f"Distance between the femoral-head centres: {d}")
