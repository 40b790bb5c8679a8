"""Generate dialog: train a diffusion generator on the project, or generate synthetic
training images with it. It only collects plain parameters (hipvision.ml.app_jobs.GeneratorJob
builds the ml configs in the engine thread, so torch never loads on the GUI thread)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

METHODS = (("conditional", "Labelled (landmark-conditioned DDPM) — images come with exact labels"),
           ("ddpm", "DDPM (unconditional) — pre-labelled by the model, for review"),
           ("dreambooth", "DreamBooth LoRA on a Stable Diffusion folder — for review"))


# Seconds per denoiser training step (batch 16, 64 px; the cost grows with the pixel count), measured
# for docs/synthetic.md (3,000 steps in 35 min on one CPU thread); the GPU figure is a rough guess.
SECONDS_PER_STEP_64 = {"cpu": 0.7, "gpu": 0.05}
BATCH = 16


def _duration(seconds: float) -> str:
    if seconds < 90:
        return "about a minute"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.0f} h"


def training_estimate(images: int, epochs: int, resolution: int, method: str, device: str = "auto") -> str:
    """What the user reads before a generator training starts: its size and a rough duration."""
    if images <= 0:
        return "No real training images in the project: label some first."
    samples = images * (2 if method == "conditional" else 1)  # the conditional generator learns each hip
    steps = epochs * -(-samples // BATCH)
    scale = (resolution / 64) ** 2
    gpu, cpu = (_duration(steps * SECONDS_PER_STEP_64[k] * scale) for k in ("gpu", "cpu"))
    where = {"cpu": f"{cpu} on the CPU", "cuda": f"{gpu} on the GPU"}.get(device, f"{gpu} on a GPU, {cpu} on the CPU")
    return (f"{images} training images × {epochs} epochs = {steps:,} steps: roughly {where}. "
            "The jobs panel shows the time left once it runs; Cancel keeps nothing.")


@dataclass(frozen=True)
class GenerateRequest:
    train: bool  # True: train the generator; False: generate images with it
    params: dict  # GeneratorJob fields
    title: str


class GenerateDialog(QDialog):
    def __init__(self, project_dir: str, *, device: str = "auto", sd_base_dir: str | None = None,
                 generators_dir: str | Path | None = None, parent=None):
        super().__init__(parent)
        # <project data>/models/generators/<method>[-<framing>]/ (ml.diffusion.generation):
        # read as plain folders, so this dialog never imports ml.
        self.generators_dir = None if generators_dir is None else Path(generators_dir)
        self.setWindowTitle("Synthetic training images")
        self.project_dir = project_dir
        self.device = device
        self.sd_base_dir = sd_base_dir
        self.request: GenerateRequest | None = None
        self._n_train: int | None = None
        self.method = QComboBox()
        for key, text in METHODS:
            self.method.addItem(text, key)
        self.train_radio = QRadioButton("Train the generator on this project's real training images")
        self.generate_radio = QRadioButton("Generate images into the project (training split only)")
        self.generate_radio.setChecked(True)
        self.count = QSpinBox()
        self.count.setRange(1, 5000)
        self.count.setValue(16)
        self.steps = QSpinBox()
        self.steps.setRange(1, 1000)
        self.steps.setValue(25)
        self.scheduler = QComboBox()
        self.scheduler.addItems(["ddim", "ddpm"])
        self.scheduler.setToolTip("DDIM: few steps (fast). DDPM: 1000 steps, as in the poster.")
        self.na_dist = QLineEdit("uniform:75:115")
        self.na_dist.setToolTip("NA of the generated hips: uniform:LO:HI or normal:MEAN:SD (degrees). "
                                "More dysplastic hips than the data has: e.g. uniform:70:100")
        self.resolution = QComboBox()
        self.resolution.addItems(["64", "128", "256", "512"])  # powers of two: the UNet halves them
        self.resolution.setCurrentText("128")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(50)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.estimate.setStyleSheet("color: #8a8a8a")
        self.error = QLabel()
        self.error.setStyleSheet("color: #e57373")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Method", self.method)
        form.addRow(self.train_radio)
        form.addRow(self.generate_radio)
        form.addRow("Images", self.count)
        form.addRow("NA distribution", self.na_dist)
        form.addRow("Sampler", self.scheduler)
        form.addRow("Denoising steps", self.steps)
        form.addRow("Training resolution (px)", self.resolution)
        form.addRow("Training epochs", self.epochs)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.estimate)
        box.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        for w in (self.method, self.train_radio, self.generate_radio, self.resolution):
            (w.currentIndexChanged if isinstance(w, QComboBox) else w.toggled).connect(self._update)
        self.epochs.valueChanged.connect(self._update)
        self._update()

    def _rows(self) -> dict[str, QWidget]:
        return {"count": self.count, "na": self.na_dist, "sched": self.scheduler, "steps": self.steps,
                "res": self.resolution, "epochs": self.epochs}

    def has_generator(self, method: str) -> bool:
        """Whether a trained generator of this method exists (unknown folder: assume yes)."""
        if self.generators_dir is None:
            return True
        return any(d.is_dir() and any(d.iterdir()) for d in self.generators_dir.glob(f"{method}*"))

    def _update(self, *_) -> None:
        # Generating needs a trained generator: without one, training is the only choice.
        method = self.method.currentData()
        ready = self.has_generator(method)
        self.generate_radio.setEnabled(ready)
        self.generate_radio.setToolTip("" if ready else f"No trained {method} generator yet: train one first")
        if not ready and self.generate_radio.isChecked():
            self.train_radio.setChecked(True)
        train = self.train_radio.isChecked()
        conditional = self.method.currentData() == "conditional"
        form: QFormLayout = self.layout().itemAt(0).layout()
        visible = {"count": not train, "na": not train and conditional, "sched": not train, "steps": not train,
                   "res": train and self.method.currentData() != "dreambooth", "epochs": train}
        for key, widget in self._rows().items():
            form.setRowVisible(widget, visible[key])
        self.estimate.setVisible(train)
        if train:
            res = 512 if method == "dreambooth" else int(self.resolution.currentText())
            self.estimate.setText(training_estimate(self.train_images(), self.epochs.value(), res, method,
                                                    self.device))

    def train_images(self) -> int:
        """The project's real training-split images (what a generator learns from)."""
        if self._n_train is None:
            from hipvision.core.store import Project, StoreError

            try:
                with Project.open(self.project_dir, create=False) as project:
                    self._n_train = sum(r.status != "error" for r in project.images(split="train", source="real"))
            except (StoreError, OSError):
                self._n_train = 0
        return self._n_train

    def build_request(self) -> GenerateRequest:
        """The job's parameters; raises ValueError naming the field on bad input."""
        method = self.method.currentData()
        train = self.train_radio.isChecked()
        params = {"project_dir": self.project_dir, "method": method, "device": self.device}
        if train:
            if method == "dreambooth" and not self.sd_base_dir:
                raise ValueError("DreamBooth starts from a Stable Diffusion model: choose its folder in "
                                 "Preferences → Stable Diffusion folder first")
            params.update(resolution=int(self.resolution.currentText()), epochs=self.epochs.value(),
                          base_model=self.sd_base_dir)
            return GenerateRequest(True, params, f"Train {method} generator")
        na = self.na_dist.text().strip()
        if method == "conditional" and (len(na.split(":")) != 3 or na.split(":")[0] not in ("uniform", "normal")):
            raise ValueError(f"NA distribution must look like uniform:75:115 or normal:95:8, got {na!r}")
        params.update(n=self.count.value(), scheduler=self.scheduler.currentText(), steps=self.steps.value(),
                      na_dist=na)
        return GenerateRequest(False, params, f"Generate {params['n']} {method} images")

    def accept(self) -> None:
        try:
            self.request = self.build_request()
        except (ValueError, TypeError) as exc:
            self.error.setText(str(exc))
            return
        super().accept()
