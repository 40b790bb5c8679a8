"""`hipvision train`: from a phantom folder and from a project (model registered)."""

from hipvision.cli import main
from hipvision.ml.checkpoint import read_sidecar
from tests.ml.conftest import phantom_folder  # noqa: F401 (fixture)

TINY_ARGS = ["--backbone", "test_resnet", "--input-size", "128", "--crop-size", "64", "--epochs", "1",
             "--batch-size", "4", "--no-pretrained", "--quiet"]


def test_train_on_a_phantom_folder_writes_a_model(tmp_path, phantom_folder, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", str(phantom_folder), *TINY_ARGS, "--out", str(out)]) == 0
    assert read_sidecar(out)["trained_on"] == "phantoms"
    assert "saved" in capsys.readouterr().out


def _project(tmp_path, phantom_folder):
    import shutil

    folder = tmp_path / "proj"
    shutil.copytree(phantom_folder, folder)
    assert main(["import", str(folder)]) == 0
    return folder


def _age(path, seconds=3600):
    import os
    import time

    t = time.time() - seconds
    os.utime(path, (t, t))


def test_the_first_model_must_beat_the_bundled_one_and_training_cleans_up_killed_runs(tmp_path, phantom_folder,
                                                                                     capsys):
    import shutil

    from hipvision.core.resources import default_model_dir
    from hipvision.core.store import Project

    folder = _project(tmp_path, phantom_folder)
    with Project.open(folder, create=False) as project:
        models = project.models_dir
    # What a run killed between saving and registering, and one killed inside an atomic write, left.
    shutil.copy(default_model_dir() / "default.safetensors", models / "keypoints-20240101-000000.safetensors")
    shutil.copy(default_model_dir() / "default.json", models / "keypoints-20240101-000000.json")
    (models / ".keypoints-20240101-000000.state.pt.k3j_x.tmp").write_bytes(b"half a state")
    (models / "notes.json").write_text("{}")  # not a run's file
    for f in models.iterdir():
        _age(f)
    capsys.readouterr()
    assert main(["train", str(folder), *TINY_ARGS, "--name", "first"]) == 0
    out = capsys.readouterr().out
    with Project.open(folder, create=False) as project:
        active = project.active_model()
        first = next(m for m in project.models() if m.name == "first")
        # one epoch of a tiny network does not beat the bundled model on the same validation images
        assert active.kind == "default" and not first.active and first.abs_file.is_file()
        assert first.abs_file.parent == project.models_dir
        assert "(not activated)" in out and "of the active model (phantom default)" in out and "(not better)" in out
        assert sorted(f.name for f in models.iterdir()) == sorted(
            [first.abs_file.name, first.abs_file.with_suffix(".json").name, "notes.json"])


def test_train_yes_activates_the_model(tmp_path, phantom_folder, capsys):
    from hipvision.core.store import Project

    folder = _project(tmp_path, phantom_folder)
    assert main(["train", str(folder), *TINY_ARGS, "--name", "first", "--activate", "yes"]) == 0
    with Project.open(folder, create=False) as project:
        active = project.active_model()
        assert active is not None and active.name == "first" and active.abs_file.is_file()
    assert " and activated" in capsys.readouterr().out  # not "(not activated)"


def test_resume_without_out_continues_the_interrupted_run_by_name(tmp_path, phantom_folder, capsys):
    import pytest

    from hipvision.core.jobs import Cancelled, CancelToken
    from hipvision.core.store import Project
    from hipvision.ml.training import TrainConfig, train_keypoints

    folder = _project(tmp_path, phantom_folder)
    token = CancelToken()

    def stop_in_epoch_2(done, total, msg):
        if msg.startswith("epoch 2/"):
            token.set()

    cfg = TrainConfig(backbone="test_resnet", input_size=128, crop_size=64, epochs=2, batch_size=4, pretrained=False)
    with Project.open(folder, create=False) as project, pytest.raises(Cancelled):
        models = project.models_dir
        train_keypoints(cfg, project, progress=stop_in_epoch_2, cancel=token)  # killed in epoch 2
    (state,) = models.glob("keypoints-*.state.pt")
    capsys.readouterr()
    args = [a if a != "1" else "2" for a in TINY_ARGS]  # --epochs 2
    assert main(["train", str(folder), *args, "--resume", "--activate", "no"]) == 0
    cap = capsys.readouterr()
    assert f"resuming {state}: 1 of 2 epochs done, continuing at epoch 2" in cap.err
    assert "epoch 2:" in cap.err and "epoch 1:" not in cap.err  # epoch 1 was not trained again
    weights = state.with_name(state.name.replace(".state.pt", ".safetensors"))
    assert [h["epoch"] for h in read_sidecar(weights)["history"]] == [1, 2]
    assert not state.exists() and f"saved {weights}" in cap.out
    # Nothing left to resume: it says so, and trains from epoch 1.
    assert main(["train", str(folder), *TINY_ARGS, "--resume", "--activate", "no"]) == 0
    cap = capsys.readouterr()
    assert "nothing to resume (no interrupted run in" in cap.err and "training from epoch 1" in cap.err
    assert "epoch 1:" in cap.err


def test_a_hostile_or_corrupt_state_is_a_one_line_error_naming_it(tmp_path, phantom_folder, capsys):
    import torch

    class Payload:
        def __reduce__(self):
            return (print, ("payload ran",))

    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.state.pt"
    for write in (lambda: torch.save({"epoch": 0, "x": Payload()}, state), lambda: state.write_bytes(b"PK\x03\x04"),
                  lambda: torch.save([1, 2, 3], state)):
        write()
        capsys.readouterr()
        assert main(["train", str(phantom_folder), *TINY_ARGS, "--out", str(out), "--resume"]) == 2
        cap = capsys.readouterr()
        lines = cap.err.strip().splitlines()
        assert len(lines) == 1, cap.err
        assert lines[0].startswith(f"hipvision train: error: {state}: not a") and "delete it to start over" in lines[0]
        assert "payload ran" not in cap.out + cap.err and not out.exists()


def test_train_rejects_a_folder_without_labels(tmp_path, capsys):
    assert main(["train", str(tmp_path), *TINY_ARGS]) == 2
    assert "neither a HipVision project" in capsys.readouterr().err


def test_train_mix_flags_reach_the_model(tmp_path, phantom_folder):
    out = tmp_path / "m.safetensors"
    assert main(["train", str(phantom_folder), *TINY_ARGS, "--out", str(out), "--synthetic-share", "count",
                 "--synthetic-until", "1"]) == 0
    tc = read_sidecar(out)["train_config"]
    assert tc["synthetic_share"] is None and tc["synthetic_until"] == 1.0
    out2 = tmp_path / "m2.safetensors"
    assert main(["train", str(phantom_folder), *TINY_ARGS, "--out", str(out2)]) == 0  # the measured default
    tc = read_sidecar(out2)["train_config"]
    assert tc["synthetic_share"] == 0.5 and tc["synthetic_until"] == 0.67


def test_every_train_config_field_has_a_flag_with_help():
    import argparse
    import dataclasses

    from hipvision.commands import train as train_cmd
    from hipvision.ml.training.config import TrainConfig

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["train"]
    by_dest = {a.dest: a for a in sub._actions}
    for f in dataclasses.fields(TrainConfig):
        assert f.name in by_dest and by_dest[f.name].help, f.name
    args = parser.parse_args(["train", "x", "--out", "m.safetensors", "--workers", "2", "--half", "--no-amp",
                              "--augment", "rotate_deg=2,enabled=0", "--train-splits", "train,val"])
    kw = train_cmd.config_kwargs(args, TrainConfig)
    kw["augment"] = train_cmd.augment_arg(kw["augment"])
    cfg = TrainConfig(**kw)
    assert cfg.output == "m.safetensors" and cfg.num_workers == 2 and cfg.save_half and not cfg.amp
    assert cfg.augment.rotate_deg == 2.0 and not cfg.augment.enabled and cfg.train_splits == ("train", "val")
    assert cfg.backbone == TrainConfig().backbone  # not given: the config's default
