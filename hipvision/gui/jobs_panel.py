"""Jobs panel: one row per engine job (progress, ETA, Cancel) and a live training plot."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from hipvision.gui.engine import Engine

MAX_PREVIEWS = 32  # generated-image previews kept in the jobs panel, newest first
ROWS_MAX_HEIGHT = 220  # px: job rows scroll beyond this, so the window never grows past the screen
LOSS_COLOUR, MAE_COLOUR = "#1f77b4", "#d62728"


class EpochAxis(pg.AxisItem):
    """Whole epochs only: a tick at epoch 2.5 means nothing."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                out.append((spacing, [v for v in values if float(v).is_integer()]))
        return out or [(1.0, [float(v) for v in range(int(np.ceil(minVal)), int(maxVal) + 1)])]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds} s left"


def _images(n) -> str:
    return f"{n} validation image{'s' if n != 1 else ''}"


def retrain_score_text(result) -> str:
    """The one figure of a retrained model (a RetrainResult), with the images it was measured on:
    the comparison with the active model as the app predicts (what the Models panel shows) —
    cross-validated on the corrected images when there were too few validation images."""
    if isinstance(result.new_val_na_mae, (int, float)):
        if result.basis == "cross-validation":
            n = result.val_images
            return f"cross-validated NA MAE {result.new_val_na_mae:.2f}° on {n} corrected image{'s' if n != 1 else ''}"
        return f"validation NA MAE {result.new_val_na_mae:.2f}° on {_images(result.val_images)}"
    if isinstance(result.val_na_mae, (int, float)):
        return (f"validation NA MAE {result.val_na_mae:.2f}° on {_images(result.training_val_images)}, "
                "measured during training")
    return "not compared with the previous model (activated as asked)"


def retrain_plot_note(result) -> str:
    """Under the training plot: which epoch was kept, and why its last point need not be the
    figure in the banner."""
    if isinstance(result.val_na_mae, (int, float)):
        text = (f"Kept the best epoch ({result.kept_epoch}): {result.val_na_mae:.2f}° on "
                f"{_images(result.training_val_images)} during training")
    else:  # few-shot: one or two validation images would pick an epoch by luck
        text = f"Kept the last epoch ({result.kept_epoch}), as few-shot runs do"
    if isinstance(result.new_val_na_mae, (int, float)):
        what = (f"{result.val_images} corrected images, cross-validated ({result.folds} folds)"
                if result.basis == "cross-validation" else _images(result.val_images))
        text += (f". Scored as the app predicts (full images): {result.new_val_na_mae:.2f}° on {what} — the "
                 "figure in the Models panel")
    return text + "."


class JobRow(QWidget):
    def __init__(self, engine: Engine, job_id: int, title: str, parent=None):
        super().__init__(parent)
        self.job_id = job_id
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: 600")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.status = QLabel("queued")
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status.setWordWrap(True)
        self.ended = False
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: engine.cancel(job_id))
        self.cancel_button.clicked.connect(lambda: self.status.setText("cancelling…"))
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)

    def set_progress(self, done: float, total: float, message: str, eta: float | None) -> None:
        if total > 0:
            self.bar.setValue(int(1000 * min(done / total, 1.0)))
        self.status.setText(f"{message} — {format_eta(eta)}" if message else format_eta(eta))

    def set_ended(self, text: str, ok: bool) -> None:
        self.ended = True
        self.cancel_button.setEnabled(False)
        self.status.setToolTip(text)  # the full text, whatever the panel's width
        if ok:
            self.bar.setValue(1000)
        self.status.setText(text)
        self.status.setStyleSheet("" if ok else "color: #d33c3c")


class JobsPanel(QWidget):
    """Subscribes to the engine's signals; owns no job state of its own beyond the rows."""

    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.rows: dict[int, JobRow] = {}
        self.rows_box = QVBoxLayout()
        self.rows_box.setContentsMargins(0, 0, 0, 0)
        self.rows_box.addStretch(1)
        rows_widget = QWidget()
        rows_widget.setLayout(self.rows_box)
        # The rows scroll: finished jobs pile up, and the dock must not push the window taller.
        self.rows_area = QScrollArea()
        self.rows_area.setWidget(rows_widget)
        self.rows_area.setWidgetResizable(True)
        self.rows_area.setFrameShape(QFrame.Shape.NoFrame)
        self.rows_area.hide()
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip("Remove the rows of jobs that have ended")
        self.clear_button.clicked.connect(self.clear_finished)
        self.clear_button.setEnabled(False)
        # Loss and validation MAE have different units: one axis each, labelled in the curve's
        # colour (no legend to cover the curves), whole epochs on the bottom axis.
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": EpochAxis("bottom")})
        self.plot.setMinimumHeight(160)
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "training loss", color=LOSS_COLOUR)
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen(LOSS_COLOUR, width=2), name="training loss")
        item = self.plot.getPlotItem()
        item.showAxis("right")
        item.setLabel("right", "validation NA MAE (°)", color=MAE_COLOUR)
        self.mae_view = pg.ViewBox()
        item.scene().addItem(self.mae_view)
        item.getAxis("right").linkToView(self.mae_view)
        self.mae_view.setXLink(item)
        self.mae_curve = pg.PlotDataItem([], [], pen=pg.mkPen(MAE_COLOUR, width=2), symbol="o", symbolSize=5,
                                         symbolBrush=MAE_COLOUR, name="validation NA MAE (°)")
        self.mae_view.addItem(self.mae_curve)
        item.vb.sigResized.connect(lambda *_: self.mae_view.setGeometry(item.vb.sceneBoundingRect()))
        self._plot_job: int | None = None
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self.plot.hide()  # shown with the first training metrics: an empty plot says nothing
        # Which images the red curve was measured on, and (after the job) how its figure relates
        # to the one in the banner and the Models panel: one model, one figure, or a reason why not.
        self.plot_note = QLabel()
        self.plot_note.setWordWrap(True)
        self.plot_note.setStyleSheet("color: #8a8a8a")
        self.plot_note.hide()
        self.placeholder = QLabel("No background jobs yet.\nRetrain (Ctrl+T) trains a new model from the "
                                  "edited and verified images; the active model stays until a better one exists.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #8a8a8a")
        # Generated images stream in here, newest first, as the generator makes them.
        self.previews = QListWidget()
        self.previews.setViewMode(QListView.ViewMode.IconMode)
        self.previews.setIconSize(QSize(96, 96))
        self.previews.setFlow(QListView.Flow.LeftToRight)
        self.previews.setWrapping(False)
        self.previews.setFixedHeight(130)
        self.previews.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.rows_area)
        lay.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        lay.addWidget(self.previews)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.plot_note)
        engine.progress.connect(self._on_progress)
        engine.metrics.connect(self._on_metrics)
        engine.preview.connect(self._on_preview)
        engine.finished.connect(lambda jid, result: self._end(jid, "finished", True))
        engine.failed.connect(lambda jid, msg, tb: self._end(jid, f"failed: {msg}", False))
        engine.cancelled.connect(lambda jid: self._end(jid, "cancelled — nothing was changed", False))
        engine.started.connect(lambda jid: jid in self.rows and self.rows[jid].status.setText("starting…"))

    def add_job(self, job) -> JobRow:
        self.placeholder.hide()
        self.rows_area.show()
        row = JobRow(self.engine, job.id, job.title)
        self.rows[job.id] = row
        self.rows_box.insertWidget(0, row)  # newest on top, where the eye is
        row.show()  # now, not at the next layout pass: _fit_rows measures it
        self._fit_rows()
        return row

    def _fit_rows(self) -> None:
        # As tall as the rows need, up to ROWS_MAX_HEIGHT; the plot takes the rest.
        need = self.rows_area.widget().sizeHint().height() + 2
        self.rows_area.setFixedHeight(min(ROWS_MAX_HEIGHT, need))

    def clear_finished(self) -> None:
        for job_id in [j for j, r in self.rows.items() if r.ended]:
            row = self.rows.pop(job_id)
            self.rows_box.removeWidget(row)
            row.deleteLater()
        self.clear_button.setEnabled(False)
        self._fit_rows()

    def _on_progress(self, job_id, done, total, message, eta) -> None:
        # Only jobs added to the panel have a row: a background prediction of the image
        # being viewed is not worth a row of its own.
        if (row := self.rows.get(job_id)) is not None:
            row.set_progress(done, total, message, eta)

    def _on_metrics(self, job_id: int, epoch: int, values: dict) -> None:
        self.plot.show()
        if job_id != self._plot_job:  # a new training job: start a fresh plot
            self._plot_job = job_id
            self._series = {}
        for name in ("loss", "val_na_mae"):
            if name in values and values[name] is not None:
                xs, ys = self._series.setdefault(name, ([], []))
                xs.append(epoch)
                ys.append(float(values[name]))
        self.loss_curve.setData(*self._series.get("loss", ([], [])))
        self.mae_curve.setData(*self._series.get("val_na_mae", ([], [])))
        if values.get("val_images"):
            self.set_plot_note(f"Red: validation NA MAE after each epoch, measured during training on "
                               f"{_images(values['val_images'])}.")
        elif "val_na_mae" not in values:
            self.set_plot_note("No labelled validation images: no validation NA MAE to plot.")

    def set_plot_note(self, text: str) -> None:
        self.plot_note.setText(text)
        self.plot_note.setVisible(bool(text))

    def _on_preview(self, job_id: int, image, caption: str) -> None:
        arr = np.ascontiguousarray(np.asarray(image))
        if arr.ndim != 2 or arr.dtype != np.uint8:
            return  # previews are grayscale uint8 radiographs; anything else is not ours to show
        h, w = arr.shape
        qimg = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        item = QListWidgetItem(QIcon(QPixmap.fromImage(qimg)), caption[:40])
        item.setToolTip(caption)
        self.previews.insertItem(0, item)
        while self.previews.count() > MAX_PREVIEWS:
            self.previews.takeItem(self.previews.count() - 1)
        self.previews.show()

    def _end(self, job_id: int, text: str, ok: bool) -> None:
        if (row := self.rows.get(job_id)) is not None:
            row.set_ended(text, ok)
            self.clear_button.setEnabled(True)
