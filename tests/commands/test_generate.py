"""`hipvision generate` and `hipvision bench generate` as a user runs them."""

import pytest

from hipvision.cli import main
from hipvision.core.store import Project


@pytest.fixture
def project(tmp_path):
    from hipvision.core.importer import import_folder
    from hipvision.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path / "p", 8, seed=2, config=PhantomConfig(size=192))
    with Project.open(tmp_path / "p") as p:
        import_folder(p)
    return tmp_path / "p"


TINY = ["--resolution", "32", "--unet-size", "tiny", "--max-steps", "3", "--batch-size", "4", "--warmup", "1",
        "--variants", "1"]


def test_conditional_train_then_sample(project, capsys):
    rc = main(["generate", str(project), "--method", "conditional", "--train", "--sample", "-n", "2", "--steps", "2",
               "--no-gate", "--na-dist", "uniform:85:95", *TINY])
    out = capsys.readouterr().out
    assert rc == 0
    assert "trained conditional generator: 3 steps" in out and "2 of 2 images accepted" in out
    with Project.open(project, create=False) as p:
        syn = p.images(source="synthetic")
        assert len(syn) == 2 and all(r.split == "train" and r.status == "verified" for r in syn)
        for r in syn:
            assert all(85 - 1e-9 <= v <= 95 + 1e-9 for v in p.current_landmarks(r.id).norberg_angles().values())
    # a second --train resumes from the checkpoint instead of starting over
    rc = main(["generate", str(project), "--method", "conditional", "--train", *TINY[:-4], "--max-steps", "5",
               "--batch-size", "4", "--variants", "1"])
    assert rc == 0 and "resumed at step 3" in capsys.readouterr().out


def test_user_errors_are_one_line(project, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HIPVISION_SD_MODEL", raising=False)
    monkeypatch.setenv("HIPVISION_CONFIG_DIR", str(tmp_path / "cfg"))
    assert main(["generate", str(project), "--method", "ddpm"]) == 2
    assert "--train, --sample" in capsys.readouterr().err
    assert main(["generate", str(project), "--method", "dreambooth", "--train"]) == 2
    err = capsys.readouterr().err
    assert "model_index.json" in err and "--base-model" in err and "Traceback" not in err
    assert main(["generate", str(project), "--method", "conditional", "--sample"]) == 2
    assert "no trained generator" in capsys.readouterr().err
    assert main(["generate", str(project), "--method", "conditional", "--sample", "--na-dist", "uniform:20:40"]) == 2
    assert "plausible" in capsys.readouterr().err


def test_without_a_keypoint_model_nothing_is_written(project, tmp_path, capsys, monkeypatch):
    """ddpm images are pre-labelled by the project's model; without one the user is told so."""
    from hipvision.ml.predict import Predictor

    assert main(["generate", str(project), "--method", "ddpm", "--train", *TINY[:-2]]) == 0
    monkeypatch.setattr(Predictor, "default_path", staticmethod(lambda: tmp_path / "missing.safetensors"))
    rc = main(["generate", str(project), "--method", "ddpm", "--sample", "-n", "1", "--steps", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "need a keypoint model" in err and "Traceback" not in err
    with Project.open(project, create=False) as p:
        assert not p.images(source="synthetic")


def test_bench_generate_reports_seconds_per_image(capsys):
    assert main(["bench", "generate", "--steps", "1", "--batch", "1", "--repeats", "1", "--size", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "s per labelled image" in out and "GPU" in out
