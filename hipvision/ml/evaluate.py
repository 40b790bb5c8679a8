"""`evaluate(predictor, project_or_samples, *, splits, progress, cancel) -> EvalReport`.

Runs the Predictor exactly as users get it (decoding, both stages, flip TTA) on the labelled
images of the chosen splits and reports, per split: NA MAE, NA MAPE, landmark errors (px,
and mm where every image has a pixel spacing), share of hips within 5 and 10 degrees, and
grade agreement. `to_markdown()` and `write_csv()` (one row per hip) make the report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hipvision.core.atomic import write_text_atomic
from hipvision.core.geometry import GeometryError
from hipvision.core.jobs import check_cancel
from hipvision.ml.data import Sample, samples_from_coco, samples_from_project
from hipvision.ml.metrics import HipComparison, by_head_size, compare, summarise

_COLUMNS = ("image", "split", "side", "na_true", "na_pred", "na_abs_err", "head_err_px", "rim_err_px",
            "radius_err_px", "head_err_mm", "rim_err_mm", "grade_true", "grade_pred", "head_located",
            "head_radius_px")


@dataclass
class EvalReport:
    model_id: str
    model_description: str
    by_split: dict[str, dict]  # split -> summarise() dict
    rows: list[HipComparison] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, reason)

    def to_markdown(self) -> str:
        lines = [f"# Evaluation of {self.model_description}", ""]
        if not self.by_split:
            return "\n".join(lines + ["No labelled images in the chosen split(s)."]) + "\n"
        has_mm = any("head_err_mm" in m for m in self.by_split.values())
        head = ["split", "images", "hips", "heads located (%)", "NA MAE (°)", "NA MAPE (%)", "median (°)", "max (°)",
                "≤5° (%)", "≤10° (%)", "grade agr. (%)", "head err (px)", "rim err (px)", "radius err (px)"]
        if has_mm:
            head += ["head err (mm)", "rim err (mm)"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for split, m in self.by_split.items():
            if not m.get("hips"):
                continue
            vals = [split, m["images"], m["hips"], f"{m['located']:.1f}", f"{m['na_mae']:.2f}", f"{m['na_mape']:.2f}",
                    f"{m['na_median_ae']:.2f}", f"{m['na_max_ae']:.2f}", f"{m['within_5']:.1f}",
                    f"{m['within_10']:.1f}", f"{m['grade_agreement']:.1f}", f"{m['head_err_px']:.2f}",
                    f"{m['rim_err_px']:.2f}", f"{m['radius_err_px']:.2f}"]
            if has_mm:
                vals += [f"{m['head_err_mm']:.2f}" if "head_err_mm" in m else "–",
                         f"{m['rim_err_mm']:.2f}" if "rim_err_mm" in m else "–"]
            lines.append("| " + " | ".join(str(v) for v in vals) + " |")
        lines += self._size_table()
        if self.failed:
            lines += ["", f"{len(self.failed)} image(s) could not be evaluated:"]
            lines += [f"- {img}: {why}" for img, why in self.failed]
        return "\n".join(lines) + "\n"

    def _size_table(self) -> list[str]:
        bands = by_head_size(self.rows)
        if len(bands) < 2:
            return []
        lines = ["", "By true head radius (full-resolution pixels; a 1-px error moves the NA by ~57°/radius):", "",
                 "| head radius | hips | heads located (%) | NA MAE (°) | median (°) | ≤5° (%) | rim err (px) |",
                 "|---|---|---|---|---|---|---|"]
        for label, m in bands:
            lines.append(f"| {label} | {m['hips']} | {m['located']:.1f} | {m['na_mae']:.2f} | {m['na_median_ae']:.2f} "
                         f"| {m['within_5']:.1f} | {m['rim_err_px']:.2f} |")
        return lines

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=_COLUMNS, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            row = r.to_row()
            w.writerow({k: ("" if row.get(k) is None else (repr(row[k]) if isinstance(row[k], float) else row[k]))
                        for k in _COLUMNS})
        return buf.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.csv_text())

    def write_markdown(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.to_markdown())


def resolve_eval_samples(project_or_samples, splits: Sequence[str]) -> list[Sample]:
    if hasattr(project_or_samples, "labelled"):
        return samples_from_project(project_or_samples, tuple(splits))
    if isinstance(project_or_samples, (str, Path)):
        # A plain labelled folder has no splits: every image is evaluated, as split "all".
        return [Sample(**{**s.__dict__, "split": "all"}) for s in samples_from_coco(project_or_samples)]
    return [s for s in project_or_samples if not splits or s.split in splits or "all" in splits]


def evaluate(predictor, project_or_samples, *, splits: Sequence[str] = ("test",), batch_size: int = 4,
             progress=None, cancel=None) -> EvalReport:
    samples = resolve_eval_samples(project_or_samples, splits)
    rows: list[HipComparison] = []
    failed: list[tuple[str, str]] = []
    for i in range(0, len(samples), batch_size):
        check_cancel(cancel)
        part = samples[i:i + batch_size]
        try:
            preds = predictor.predict_batch([s.image for s in part], [s.mapping for s in part])
        except Exception as exc:  # noqa: BLE001 - fall back to one at a time to name the bad file
            preds = []
            for s in part:
                try:
                    preds.append(predictor.predict(s.image, s.mapping))
                except Exception as one:  # noqa: BLE001
                    failed.append((s.label, str(one)))
                    preds.append(None)
            if all(p is None for p in preds) and not failed:
                raise exc
        for s, p in zip(part, preds):
            if p is None:
                continue
            try:
                rows += compare(s.label, p.landmarks, s.landmarks, split=s.split, spacing=s.spacing)
            except GeometryError as exc:
                failed.append((s.label, str(exc)))
        if progress is not None:
            progress(min(i + batch_size, len(samples)), len(samples), "evaluating")
    order = list(dict.fromkeys(s.split for s in samples))
    by_split = {sp: summarise([r for r in rows if r.split == sp]) for sp in order}
    if len(order) > 1:
        by_split["all"] = summarise(rows)
    return EvalReport(model_id=predictor.model_id, model_description=predictor.description, by_split=by_split,
                      rows=rows, failed=failed)
