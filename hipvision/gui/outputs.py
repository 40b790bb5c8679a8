"""Files the workstation writes: annotated images, PDF reports, CSV/COCO exports.

`render_image_file` is what `hipvision render` and File ▸ Save annotated image both call.
`OutputsMixin` adds the File-menu slots (a file dialog, then the plain function) to the
main window without growing main_window.py.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from hipvision.annotation.overlay_geometry import build_overlay
from hipvision.annotation.state import load_state
from hipvision.core.atomic import atomic_path
from hipvision.core.exporter import export_project
from hipvision.core.grading import DEFAULT_THRESHOLDS, GradeThresholds
from hipvision.core.radiograph import Radiograph, load_radiograph
from hipvision.core.store import Project
from hipvision.gui.render import render_annotated
from hipvision.gui.report_pdf import write_report


def annotated_image(project: Project, image_id: int, *, radiograph: Radiograph | None = None,
                    window: tuple[float, float] | None = None, invert: bool = False, max_side: int | None = None,
                    thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> QImage:
    """The image with its stored landmarks drawn: what `render_image_file` saves and the
    Secondary Capture (gui.secondary_capture) sends."""
    state = load_state(project, image_id)
    rec = state.image
    if rec.error:
        raise ValueError(f"{rec.path}: cannot render an unreadable image ({rec.error})")
    rad = radiograph if radiograph is not None else load_radiograph(rec.abs_path)
    overlay = None if state.landmarks is None else build_overlay(state.landmarks, rec.mapping, state.kind, thresholds)
    return render_annotated(rad, overlay, window=window, invert=invert, max_side=max_side)


def render_image_file(project: Project, image_id: int, out: str | Path, *, radiograph: Radiograph | None = None,
                      window: tuple[float, float] | None = None, invert: bool = False, max_side: int | None = None,
                      thresholds: GradeThresholds = DEFAULT_THRESHOLDS) -> Path:
    """The image with its stored landmarks drawn, as PNG/JPEG/TIFF (by suffix), written atomically."""
    image = annotated_image(project, image_id, radiograph=radiograph, window=window, invert=invert,
                            max_side=max_side, thresholds=thresholds)
    out = Path(out)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out}: output must end in .png, .jpg or .tif")
    with atomic_path(out) as tmp:
        if not image.save(str(tmp), fmt):
            raise OSError(f"{out}: could not write the {fmt} image")
    return out


class OutputsMixin:
    """File-menu slots of MainWindow (needs: project, current_image_id, canvas, image_list,
    thresholds, show_status)."""

    def _save_name(self, caption: str, suggested: str, filters: str) -> Path | None:
        start = str((self.project.root if self.project else Path.home()) / suggested)
        name, _ = QFileDialog.getSaveFileName(self, caption, start, filters)
        return Path(name) if name else None

    def export_annotations(self, path: str | Path, fmt: str) -> Path:
        out, n = export_project(self.project, path, fmt)
        unreviewed = sum(1 for r in self.project.images() if r.status == "predicted")
        note = f" ({unreviewed} unreviewed predictions, marked reviewed=no)" if unreviewed else ""
        self.show_status(f"Exported {n} annotated images to {out}{note}")
        return out

    def choose_export_csv(self) -> None:
        if self.project and (p := self._save_name("Export CSV", "hipvision.csv", "CSV (*.csv)")):
            self.export_annotations(p, "csv")

    def choose_export_coco(self) -> None:
        if self.project and (p := self._save_name("Export COCO keypoints", "hipvision_coco.json", "JSON (*.json)")):
            self.export_annotations(p, "coco")

    def save_render(self, path: str | Path) -> Path:
        loaded = self.canvas.loaded
        out = render_image_file(self.project, self.current_image_id, path,
                                radiograph=None if loaded is None else loaded.radiograph,
                                window=self.canvas.window, invert=self.canvas.inverted, thresholds=self.thresholds)
        self.show_status(f"Saved {out}")
        return out

    def choose_render(self) -> None:
        if self.project and self.current_image_id is not None:
            stem = Path(self.project.image(self.current_image_id).name).stem
            if p := self._save_name("Save annotated image", f"{stem}_annotated.png", "Images (*.png *.jpg *.tif)"):
                self.save_render(p)

    def save_report(self, path: str | Path, image_ids: list[int]) -> Path:
        out = write_report(self.project, image_ids, path, thresholds=self.thresholds)
        self.show_status(f"Wrote a {len(image_ids)}-page report to {out}")
        return out

    def choose_report_current(self) -> None:
        if self.project and self.current_image_id is not None:
            stem = Path(self.project.image(self.current_image_id).name).stem
            if p := self._save_name("PDF report", f"{stem}_report.pdf", "PDF (*.pdf)"):
                self.save_report(p, [self.current_image_id])

    def choose_report_selected(self) -> None:
        if not self.project:
            return
        ids = [i for i in self.image_list.selected_ids() if not self.project.image(i).error]
        if ids and (p := self._save_name("PDF report", "hipvision_report.pdf", "PDF (*.pdf)")):
            self.save_report(p, ids)
