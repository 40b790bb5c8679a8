"""Attach the background engine to the main window: predictions, Predict all, one-click
retrain, the jobs and models panels, and a clean shutdown on close.

The window knows nothing of ML; this module translates its signals into engine jobs and the
engine's results back into `on_annotation_changed` calls. The ML functions run in the engine's
child process (see engine.py); the GUI process imports only their torch-free modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from hipvision.gui.engine import Engine
from hipvision.gui.jobs_panel import JobsPanel, retrain_plot_note, retrain_score_text
from hipvision.gui.models_panel import ModelsPanel

if TYPE_CHECKING:
    from hipvision.ml.job_results import PredictResult, RetrainResult


def _app_jobs():
    # Imported on first use, not at start-up: app_jobs is light, but it belongs to hipvision.ml.
    from hipvision.ml import app_jobs

    return app_jobs


def list_default_model(project_dir: str, *, progress=None, cancel=None) -> None:
    """Engine job: record the bundled model in the project, so the Models panel lists it from
    the start. It lives in gui/, so it runs in the engine's thread, not its child: it is
    torch-free (the sidecar only), just not for the GUI thread, which must not wait on disk."""
    from hipvision.core.store import Project

    with Project.open(project_dir, create=False) as project:
        _app_jobs().ensure_default_model(project)


class EngineBridge(QObject):
    def __init__(self, window, engine: Engine | None = None, *, retrain_options: dict | None = None):
        super().__init__(window)
        self.window = window
        self.engine = engine or Engine(self)
        self.retrain_options = dict(retrain_options or {})  # RetrainJob fields (tests: tiny settings)
        self.pending_predictions: set[int] = set()
        self.retrain_job_id: int | None = None
        self.failures_shown_elsewhere: set[int] = set()  # jobs whose open dialog says why they failed
        self.last_retrain: RetrainResult | None = None
        self.jobs_panel = JobsPanel(self.engine)
        self.jobs_dock = window.add_panel(self.jobs_panel, "Jobs", Qt.DockWidgetArea.RightDockWidgetArea)
        self.models_panel: ModelsPanel | None = None
        self.models_dock = None
        self._add_actions()
        window.predict_requested.connect(self.predict_image)
        window.place_tool.placed.connect(self.place_hips)
        # The review banner's fix on a doubtful prediction: the two-click tool, now that a model can refine
        window.place_with_clicks_requested.connect(lambda _image_id: window.toggle_place_mode(True))
        window.project_opened.connect(self._on_project_opened)
        self.engine.finished.connect(self._on_finished)
        self.engine.failed.connect(self._on_failed)
        self.engine.cancelled.connect(self._on_cancelled)
        window.installEventFilter(self)
        window.set_prediction_available(True)

    # ------------------------------------------------------------ UI

    def _add_actions(self) -> None:
        w = self.window
        menu = w.menuBar().findChild(QMenu, "model_menu")
        self.predict_all_action = QAction("Predict &all images", w)
        self.predict_all_action.setStatusTip("Predict every image no person has annotated yet")
        self.predict_all_action.triggered.connect(self.predict_all)
        self.retrain_action = QAction("&Retrain model", w)
        self.retrain_action.setIconText("Retrain")
        self.retrain_action.setShortcut(QKeySequence("Ctrl+T"))
        self.retrain_action.setStatusTip("Train a new model from the edited and verified images (in the background)")
        self.retrain_action.triggered.connect(self.retrain)
        self.generate_action = QAction("&Synthetic images…", w)
        self.generate_action.setStatusTip("Train a diffusion generator, or add generated images to the training split")
        self.generate_action.triggered.connect(self.open_generate_dialog)
        self.cancel_action = QAction("&Cancel running jobs", w)
        self.cancel_action.triggered.connect(self.engine.cancel_all)
        for a in (self.predict_all_action, self.retrain_action, self.generate_action, self.cancel_action):
            menu.addAction(a)
            w.actions[a.text().replace("&", "").split()[0].lower() + "_job"] = a
        toolbar = w.findChild(QToolBar, "main_toolbar")
        toolbar.addSeparator()
        toolbar.addAction(self.retrain_action)
        self._update_actions()

    def _update_actions(self) -> None:
        has_project = self.window.project is not None
        self.predict_all_action.setEnabled(has_project)
        self.generate_action.setEnabled(has_project)
        self.retrain_action.setEnabled(has_project and self.retrain_job_id is None)

    def _on_project_opened(self, project) -> None:
        # The jobs/models docks share the right column with the readout: the readout keeps
        # its full height, the NA must never be squeezed out of sight by a progress plot.
        panel = self.window.panel
        panel.setMinimumHeight(max(panel.minimumHeight(), panel.sizeHint().height()))
        if self.models_panel is None:
            self.models_panel = ModelsPanel(project)
            self.models_panel.active_changed.connect(lambda _id: self.predict_all())
            self.models_dock = self.window.add_panel(self.models_panel, "Models", Qt.DockWidgetArea.RightDockWidgetArea)
            self.window.tabifyDockWidget(self.jobs_dock, self.models_dock)
            self.jobs_dock.raise_()
        else:
            self.models_panel.set_project(project)
        self.engine.submit("models", list_default_model, str(project.root), title="List the bundled model")
        self._update_actions()

    # ------------------------------------------------------------ jobs

    def retrain_config(self, folder: str):
        """The RetrainJob of a one-click retrain: device and synthetic-image mix from Preferences."""
        return _app_jobs().button_job(folder, self.window.settings, **self.retrain_options)

    def _device(self) -> str:
        return self.window.settings.device  # Preferences -> Compute device

    def _project_dir(self) -> str | None:
        p = self.window.project
        return None if p is None else str(p.root)

    def predict_image(self, image_id: int) -> None:
        folder = self._project_dir()
        if folder is None or image_id in self.pending_predictions:
            return
        self.pending_predictions.add(image_id)
        jobs = _app_jobs()
        self.engine.submit("predict", jobs.predict_images, jobs.PredictJob(folder, (image_id,), self._device()),
                           title=f"Predict image {image_id}")
        self.window.show_status("Predicting landmarks…")

    def place_hips(self, heads) -> None:
        """Two clicks (or the refine key) -> the engine refines the hips from there."""
        folder, image_id = self._project_dir(), self.window.current_image_id
        if folder is None or image_id is None:
            return
        from hipvision.ml.place_job import PlaceJob, place_hips

        try:
            config = PlaceJob(folder, image_id, tuple(tuple(map(float, p)) for p in heads), self._device())
        except ValueError as exc:
            self.window.show_status(str(exc).replace("PlaceJob.heads: ", ""))
            return
        self.engine.submit("place", place_hips, config, title=f"Place hips on image {image_id}")

    def predict_all(self) -> None:
        folder = self._project_dir()
        if folder is None:
            return
        jobs = _app_jobs()
        job = self.engine.submit("predict", jobs.predict_images, jobs.PredictJob(folder, device=self._device()),
                                 title="Predict all images")
        self.jobs_panel.add_job(job)

    def retrain(self) -> None:
        folder = self._project_dir()
        if folder is None or self.retrain_job_id is not None:
            return
        jobs = _app_jobs()
        config = self.retrain_config(folder)
        job = self.engine.submit("retrain", jobs.retrain, config, title="Retrain model", hooks=("metrics",))
        self.jobs_panel.add_job(job)
        self.retrain_job_id = job.id
        self.jobs_dock.raise_()
        self._update_actions()

    def open_generate_dialog(self) -> None:
        from hipvision.gui.generate_dialog import GenerateDialog

        folder = self._project_dir()
        if folder is None:
            return
        sd = self.window.settings.sd_base_dir
        dialog = GenerateDialog(folder, device=self._device(), sd_base_dir=None if sd is None else str(sd),
                                generators_dir=self.window.project.models_dir / "generators", parent=self.window)
        if dialog.exec() == dialog.DialogCode.Accepted and dialog.request is not None:
            self.submit_generate(dialog.request)

    def submit_generate(self, request):
        jobs = _app_jobs()
        fn = jobs.train_generator_job if request.train else jobs.generate_job
        job = self.engine.submit("generate", fn, jobs.GeneratorJob(**request.params), title=request.title,
                                 hooks=("preview",))
        self.jobs_panel.add_job(job)
        self.jobs_dock.raise_()
        return job

    def _on_finished(self, job_id: int, result) -> None:
        from hipvision.ml.job_results import GenerateResult, GeneratorTrainResult, PredictResult, RetrainResult

        job = self.engine.jobs.get(job_id)
        if job is None:
            return
        if job.kind == "place":
            self.window.apply_placement(result)
            return
        if job.kind == "models":
            if self.models_panel is not None:
                self.models_panel.refresh()
            return
        if isinstance(result, PredictResult):
            self._on_predicted(job, result)
        elif isinstance(result, GenerateResult):
            if result.generated:
                self.window.reload_image_list()  # new synthetic images in the training split
            self.window.show_status(result.summary or f"{job.title}: done")
        elif isinstance(result, GeneratorTrainResult):
            self.window.show_status(f"{job.title}: done")
        elif isinstance(result, RetrainResult):
            self._on_retrained(result)

    def _on_predicted(self, job, result: PredictResult) -> None:
        for image_id in result.touched:
            self.pending_predictions.discard(image_id)
            self.window.on_annotation_changed(image_id)
        if job.kind == "predict" and job.config.image_ids:
            self.pending_predictions.difference_update(job.config.image_ids)
            if result.failed:
                self.window.show_status(f"Prediction failed: {result.failed[0][1]}")
            else:
                self.window.show_status(f"Predicted by model {result.model_id}")

    def _on_retrained(self, result: RetrainResult) -> None:
        self.retrain_job_id = None
        self.last_retrain = result
        for image_id in result.repredicted:
            self.window.on_annotation_changed(image_id)
        mae_text = retrain_score_text(result)
        self.jobs_panel.set_plot_note(retrain_plot_note(result))
        if result.activated:
            self.window.show_banner(None)
            self.window.show_status(f"New model {result.name} is active ({mae_text}); "
                                    f"{len(result.repredicted)} images re-predicted")
        else:
            self.window.show_banner(f"The new model ({result.name}) was kept but not activated: "
                                    f"{result.reason}. Activate it in the Models panel if you prefer it.")
        if self.models_panel is not None:
            self.models_panel.refresh()
        self._update_actions()

    def _on_failed(self, job_id: int, message: str, _traceback: str) -> None:
        self._job_ended(job_id)
        if job_id in self.failures_shown_elsewhere:
            self.failures_shown_elsewhere.discard(job_id)
            return
        self.window.show_banner(f"{self.engine.jobs[job_id].title} failed: {message}")

    def _on_cancelled(self, job_id: int) -> None:
        self._job_ended(job_id)
        self.window.show_status(f"{self.engine.jobs[job_id].title} cancelled; nothing was changed")

    def _job_ended(self, job_id: int) -> None:
        job = self.engine.jobs.get(job_id)
        if job is not None and job.kind == "predict" and job.config.image_ids:
            self.pending_predictions.difference_update(job.config.image_ids)
        if job_id == self.retrain_job_id:
            self.retrain_job_id = None
            self._update_actions()

    # ------------------------------------------------------------ shutdown

    def eventFilter(self, obj, event) -> bool:
        # Before the window closes its project: cancel, then wait for the running job to see
        # the token (a batch or a denoising step), so nothing is cut off mid-write.
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.window.show_status("Stopping background jobs…")
            self.engine.shutdown()
        return False
