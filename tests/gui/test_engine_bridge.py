"""Issue 5 as a user meets it: background predictions, one-click retrain with live progress
and metrics, cancel, and closing the window mid-job — on a tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hipvision.core.importer import import_folder
from hipvision.core.interchange import read_coco, write_coco
from hipvision.core.landmarks import SideLandmarks
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms
from tests.gui.conftest import open_window

TINY = dict(input_size=128, crop_size=64, channels=16, threads=2, min_samples_per_epoch=16)
N_IMAGES, N_UNLABELLED = 14, 4


@pytest.fixture(scope="module")
def base_project(tmp_path_factory) -> Path:
    """14 phantoms; 4 without labels (status new); a tiny active model trained on the rest."""
    from hipvision.ml.predict import Predictor
    from hipvision.ml.registry import register_model
    from hipvision.ml.training import TrainConfig, train_keypoints

    folder = tmp_path_factory.mktemp("engine_project")
    generate_phantoms(folder, N_IMAGES, seed=21, config=PhantomConfig(size=256))
    items = read_coco(folder / "annotations.json")
    write_coco(folder / "annotations.json", items[N_UNLABELLED:])
    with Project.open(folder) as project:
        import_folder(project)
        out = project.models_dir / "tiny.safetensors"
        train_keypoints(TrainConfig(backbone="test_resnet", pretrained=False, epochs=2, batch_size=4, lr=3e-3,
                                    output=str(out), trained_on="phantoms", **TINY), project)
        register_model(project, out, activate=True, name="tiny")
        Predictor.load(out)  # loadable before the tests start
    return folder


@pytest.fixture
def project_dir(base_project, tmp_path) -> Path:
    dest = tmp_path / "p"
    shutil.copytree(base_project, dest)
    return dest


def bridge_window(qtbot, folder, **retrain):
    win = open_window(qtbot, folder, with_engine=True)
    bridge = win.engine_bridge
    bridge.retrain_options = {"epochs": 1, "batch_size": 4, "phantoms": 1, "extra": dict(TINY), **retrain}
    return win, bridge


def unlabelled_ids(folder) -> list[int]:
    with Project.open(folder) as p:
        return [r.id for r in p.images() if p.current_annotation(r.id) is None]


def test_predict_all_fills_project_and_never_overwrites_an_edit(qtbot, project_dir, monkeypatch):
    import threading

    from hipvision.ml import app_jobs

    new_ids = unlabelled_ids(project_dir)
    assert len(new_ids) == N_UNLABELLED
    edited = new_ids[-1]
    with Project.open(project_dir) as p:
        target_path = str(p.image(edited).abs_path)
        lm = p.current_landmarks(p.images(status="verified")[0].id)
    user_lm = lm.with_side("left", SideLandmarks(lm.left.head_x + 3, lm.left.head_y, lm.left.head_r,
                                                 lm.left.rim_x, lm.left.rim_y))
    # The job's prediction of `edited` is held in flight until the vet has edited that image.
    in_flight, edit_done = threading.Event(), threading.Event()
    real_predictor_for = app_jobs.predictor_for

    def gated_predictor_for(project, device="auto"):
        pred, model_id = real_predictor_for(project, device)

        class Gated:
            def predict(self, path, mapping):
                out = pred.predict(path, mapping)
                if str(path) == target_path:
                    in_flight.set()
                    edit_done.wait(30)
                return out

        return Gated(), model_id

    monkeypatch.setattr(app_jobs, "predictor_for", gated_predictor_for)
    win, bridge = bridge_window(qtbot, project_dir)
    is_predict_all = lambda jid, r: bridge.engine.jobs[jid].title == "Predict all images"  # noqa: E731
    with qtbot.waitSignal(bridge.engine.finished, timeout=60_000, check_params_cb=is_predict_all) as blocker:
        bridge.predict_all_action.trigger()  # submitted first...
        qtbot.waitUntil(in_flight.is_set, timeout=30_000)
        win.project.save_annotation(edited, user_lm)  # ...then the vet edits while it runs
        edit_done.set()
    result = blocker.args[1]
    assert result.skipped == (edited,) and set(result.predicted) == set(new_ids[:-1])
    with Project.open(project_dir) as p:
        assert p.current_landmarks(edited) == user_lm and p.image(edited).status == "edited"
        for image_id in new_ids[:-1]:
            ann = p.current_annotation(image_id)
            assert p.image(image_id).status == "predicted" and ann.author.startswith("model:")
            assert set(ann.confidence) >= {"left.head", "right.rim"}
    # The list shows what the store says, without a reload by hand.
    qtbot.waitUntil(lambda: win.image_list.record(new_ids[0]).status == "predicted", timeout=5_000)
    assert win.image_list.tree.topLevelItemCount() == N_IMAGES


def test_opening_a_new_image_predicts_it_in_the_background(qtbot, project_dir):
    target = unlabelled_ids(project_dir)[1]
    win, bridge = bridge_window(qtbot, project_dir)
    with qtbot.waitSignal(bridge.engine.finished, timeout=60_000):
        win.image_list.select_id(target)
    qtbot.waitUntil(lambda: win.canvas.landmarks is not None and win._state.kind in ("model", "flagged"), timeout=5_000)
    assert win.project.image(target).status == "predicted"


def test_one_click_retrain_reports_progress_and_metrics(qtbot, project_dir, monkeypatch):
    from dataclasses import replace

    from hipvision.ml import promotion, retrain_job

    # The judge says "better" (its rule has its own tests): the window must show that outcome.
    monkeypatch.setattr(retrain_job, "_judge", lambda *a: promotion.judge(("a", "b", "c"), (5.0, 6.0, 7.0),
                                                                          (3.0, 4.0, 5.0), basis="validation"))

    win, bridge = bridge_window(qtbot, project_dir, epochs=2)
    win.settings = replace(win.settings, synthetic_share=0.25, synthetic_until=0.5)  # not the defaults
    progress, metrics = [], []
    bridge.engine.progress.connect(lambda jid, d, t, m, eta: progress.append((d, t, m)))
    bridge.engine.metrics.connect(lambda jid, ep, vals: metrics.append((ep, vals)))
    before = {m.id for m in win.project.models()}
    active_before = win.project.active_model()
    with qtbot.waitSignal(bridge.engine.finished, timeout=240_000,
                          check_params_cb=lambda jid, r: bridge.engine.jobs[jid].kind == "retrain"):
        bridge.retrain_action.trigger()
        assert not bridge.retrain_action.isEnabled()  # one retrain at a time
    # waitSignal may hear the worker thread's emit before the GUI thread ran the bridge's slot.
    qtbot.waitUntil(lambda: bridge.last_retrain is not None, timeout=5_000)
    result = bridge.last_retrain
    assert result.train_images >= 6 and result.epochs_run == 2
    assert progress and metrics and all(isinstance(v.get("loss"), float) for _, v in metrics)
    assert bridge.jobs_panel.loss_curve.getData()[0] is not None  # the live plot got the points
    models = win.project.models()
    new = [m for m in models if m.id not in before]
    assert len(new) == 1 and Path(new[0].abs_file).is_file()
    assert result.activated is True and result.reason.endswith("(better)")
    assert (result.new_val_na_mae, result.old_val_na_mae, result.val_images) == (4.0, 6.0, 3)
    assert new[0].active and win.project.active_model().id == new[0].id != active_before.id
    # The job carried the Preferences' synthetic-image mix (for generated images; this project has
    # none, so the model mixed in only the few-shot plan's phantoms, with a frozen stem).
    from hipvision.ml.checkpoint import read_sidecar

    job = next(j for j in bridge.engine.jobs.values() if j.kind == "retrain")
    assert (job.config.synthetic_share, job.config.synthetic_until) == (win.settings.synthetic_share,
                                                                       win.settings.synthetic_until)
    tc = read_sidecar(new[0].abs_file)["train_config"]
    assert tc["freeze"] == "stem" and tc["keep"] == "last" and tc["synthetic_until"] == 1.0
    assert bridge.models_panel.table.rowCount() == len(models)
    assert bridge.retrain_action.isEnabled()


def test_cancel_mid_training_leaves_active_model_unchanged(qtbot, project_dir):
    from hipvision.ml.predict import Predictor

    win, bridge = bridge_window(qtbot, project_dir, epochs=50)
    active_before = win.project.active_model()
    models_before = win.project.models()
    files_before = sorted(p.name for p in win.project.models_dir.iterdir())
    with qtbot.waitSignal(bridge.engine.metrics, timeout=120_000):  # first epoch done: mid-training
        bridge.retrain_action.trigger()
    with qtbot.waitSignal(bridge.engine.cancelled, timeout=60_000):
        bridge.cancel_action.trigger()
    assert win.project.active_model() == active_before
    assert sorted(p.name for p in win.project.models_dir.iterdir()) == files_before
    assert win.project.models() == models_before  # no half-registered model
    Predictor.load(active_before.abs_file)
    row = bridge.jobs_panel.rows[max(bridge.jobs_panel.rows)]
    qtbot.waitUntil(lambda: "cancelled" in row.status.text(), timeout=5_000)
    assert not row.cancel_button.isEnabled()


def test_closing_the_window_during_a_job_exits_cleanly(qtbot, project_dir):
    win, bridge = bridge_window(qtbot, project_dir, epochs=50)
    active_before = win.project.active_model()
    models_before = win.project.models()
    with qtbot.waitSignal(bridge.engine.progress, timeout=120_000):
        bridge.retrain_action.trigger()
    win.close()
    assert bridge.engine._thread.isFinished()
    with Project.open(project_dir) as p:
        assert p.integrity_check() == "ok"
        assert p.active_model().id == active_before.id
        assert [m.id for m in p.models()] == [m.id for m in models_before]


def test_generate_dialog_trains_then_generates_labelled_images_with_previews(qtbot, project_dir):
    from hipvision.gui.generate_dialog import GenerateDialog

    win, bridge = bridge_window(qtbot, project_dir)
    tiny = {"unet_size": "tiny", "batch_size": 8, "max_steps": 3, "warmup_steps": 1, "checkpoint_every": 0}
    dialog = GenerateDialog(str(project_dir), device="cpu")
    qtbot.addWidget(dialog)
    dialog.method.setCurrentIndex(0)  # conditional
    dialog.train_radio.setChecked(True)
    dialog.resolution.setCurrentText("64")
    request = dialog.build_request()
    request = type(request)(request.train, {**request.params, "resolution": 32, "extra": tiny}, request.title)
    is_generate = lambda jid, r: bridge.engine.jobs[jid].kind == "generate"  # noqa: E731 - not a predict job
    with qtbot.waitSignal(bridge.engine.finished, timeout=240_000, check_params_cb=is_generate):
        bridge.submit_generate(request)

    dialog.generate_radio.setChecked(True)
    dialog.count.setValue(3)
    dialog.steps.setValue(2)
    request = dialog.build_request()
    previews = []
    bridge.engine.preview.connect(lambda jid, img, cap: previews.append(cap))
    before = len(win.project.images())
    with qtbot.waitSignal(bridge.engine.finished, timeout=240_000, check_params_cb=is_generate) as blocker:
        bridge.submit_generate(request)
    result = blocker.args[1]
    qtbot.waitUntil(lambda: len(previews) == 3, timeout=5_000)
    assert bridge.jobs_panel.previews.count() >= 3
    added = [win.project.image(i) for i in result.generated]
    assert len(added) + result.rejected == 3
    assert all(r.source == "synthetic" and r.split == "train" for r in added)
    for rec in added:  # labelled method: each accepted image carries its condition as its labels
        info = win.project.synthetic_info(rec.id)
        assert info.method == "conditional" and win.project.current_landmarks(rec.id) == info.condition
    qtbot.waitUntil(lambda: win.image_list.tree.topLevelItemCount() == before + len(added), timeout=5_000)


def test_generate_dialog_rejects_a_malformed_na_distribution(qtbot, project_dir):
    from hipvision.gui.generate_dialog import GenerateDialog

    dialog = GenerateDialog(str(project_dir))
    qtbot.addWidget(dialog)
    dialog.na_dist.setText("lots of dysplasia")
    dialog.accept()
    assert dialog.request is None and "uniform:75:115" in dialog.error.text()
