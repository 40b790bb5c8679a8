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


def test_train_on_a_project_registers_and_activates_the_model(tmp_path, phantom_folder, capsys):
    import shutil

    from hipvision.core.store import Project

    folder = tmp_path / "proj"
    shutil.copytree(phantom_folder, folder)
    assert main(["import", str(folder)]) == 0
    assert main(["train", str(folder), *TINY_ARGS, "--name", "first"]) == 0
    with Project.open(folder, create=False) as project:
        active = project.active_model()
        assert active is not None and active.name == "first" and active.abs_file.is_file()
        assert active.abs_file.parent == project.models_dir
    assert " and activated" in capsys.readouterr().out  # not "(not activated)"


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
