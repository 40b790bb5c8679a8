"""`hipvision experiment`: the table is written, measured on the real test split only."""

import csv
import json

import pytest

from hipvision.cli import main
from hipvision.core.store import Project


def test_experiment_writes_the_table(tmp_path, capsys):
    from hipvision.core.importer import import_folder
    from hipvision.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path / "p", 14, seed=4, config=PhantomConfig(size=192))
    with Project.open(tmp_path / "p") as p:
        import_folder(p)
        test_names = {r.path for r in p.images(split="test")}
    out = tmp_path / "out"
    args = ["experiment", str(tmp_path / "p"), "--backbones", "test_resnet", "--out", str(out), "--synthetic", "3",
            "--labelled", "5", "--more-real", "2", "--epochs", "1", "--input-size", "64", "--crop-size", "64",
            "--gen-resolution", "32",
            "--gen-size", "tiny", "--gen-steps", "2", "--sample-steps", "2", "--no-pretrained", "--no-gate",
            "--threads", "1"]
    assert main(args) == 0
    assert "| test_resnet |" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 1 and rows[0]["backbone"] == "test_resnet"
    assert rows[0]["labelled"] == "5" and rows[0]["synthetic"] == "3"
    assert int(rows[0]["test_hips"]) == 2 * len(test_names)
    mae0, mae1 = float(rows[0]["mae_without"]), float(rows[0]["mae_with"])
    assert float(rows[0]["mae_improvement_pct"]) == pytest.approx((mae0 - mae1) / mae0 * 100, abs=1e-3)
    info = json.loads((out / "experiment.json").read_text())
    arms = {a["arm"]: a for a in info["arms"]}
    assert arms["without"]["steps"] == arms["with"]["steps"] == arms["more_real"]["steps"] > 0  # same budget
    # the reference arm: 2 other real training images, never test ones, never synthetic
    extra = set(info["more_real_images"])
    assert len(extra) == 2 and not extra & set(info["chosen_images"]) and not extra & test_names
    assert arms["more_real"]["synthetic"] == 0 and rows[0]["more_real"] == "2"
    assert float(rows[0]["mae_more_real"]) == pytest.approx(arms["more_real"]["test"]["na_mae"], abs=1e-3)
    assert "more real" in (out / "results.md").read_text()
    assert arms["with"]["synthetic"] == 3 and arms["without"]["synthetic"] == 0
    assert len(info["chosen_images"]) == 5 and not set(info["chosen_images"]) & test_names
    assert (out / "results.md").read_text().startswith("# Diffusion augmentation")
    with Project.open(tmp_path / "p", create=False) as p:  # the project is not changed
        assert not p.images(source="synthetic")

    # A re-run (after a crash, or with other synthetic settings) reuses the real-only models it
    # trained on exactly the same images with exactly the same settings, and retrains the rest.
    without, with_ = out / "models" / "test_resnet-without.safetensors", out / "models" / "test_resnet-with.safetensors"
    t0, t1 = without.stat().st_mtime_ns, with_.stat().st_mtime_ns
    assert main(args + ["--na-dist", "uniform:80:90"]) == 0
    assert without.stat().st_mtime_ns == t0 and with_.stat().st_mtime_ns != t1
    again = {a["arm"]: a for a in json.loads((out / "experiment.json").read_text())["arms"]}
    assert again["without"]["test"] == arms["without"]["test"] and again["with"]["synthetic"] == 3

    # Changing only how synthetic images are mixed in reuses the sampled images (and the
    # real-only models); the "with" model is retrained with the new mix.
    npz = out / "synthetic.npz"
    t_npz, t1 = npz.stat().st_mtime_ns, with_.stat().st_mtime_ns
    args2 = args + ["--na-dist", "uniform:80:90", "--synthetic-share", "0.5", "--synthetic-until", "0.5"]
    assert main(args2) == 0
    assert npz.stat().st_mtime_ns == t_npz and with_.stat().st_mtime_ns != t1
    assert without.stat().st_mtime_ns == t0
    from hipvision.ml.checkpoint import read_sidecar

    tc = read_sidecar(with_)["train_config"]
    assert tc["synthetic_share"] == 0.5 and tc["synthetic_until"] == 0.5

    # The same run again trains nothing; an independent labelled folder is measured too, and
    # its numbers are those `evaluate` gives for each model on that folder.
    generate_phantoms(tmp_path / "ext", 3, seed=99, config=PhantomConfig(size=192))
    t_with = with_.stat().st_mtime_ns
    assert main(args2 + ["--external-test", str(tmp_path / "ext")]) == 0
    assert with_.stat().st_mtime_ns == t_with and without.stat().st_mtime_ns == t0
    from hipvision.ml.evaluate import evaluate
    from hipvision.ml.predict import Predictor

    row = next(csv.DictReader((out / "results.csv").open()))
    assert row["ext_hips"] == "6"
    for arm, col in (("without", "ext_mae_without"), ("with", "ext_mae_with"), ("more_real", "ext_mae_more_real")):
        ck = out / "models" / f"test_resnet-{arm}.safetensors"
        ref = evaluate(Predictor.load(ck, threads=1), tmp_path / "ext", splits=()).by_split["all"]["na_mae"]
        assert float(row[col]) == pytest.approx(ref, abs=1e-3)
    assert "Independent test set" in (out / "results.md").read_text()

    # An out folder copied elsewhere is reused just the same.
    import shutil

    shutil.copytree(out, tmp_path / "moved")
    moved = tmp_path / "moved" / "models" / "test_resnet-without.safetensors"
    t_moved = moved.stat().st_mtime_ns
    i = args2.index("--out")
    assert main(args2[:i] + ["--out", str(tmp_path / "moved")] + args2[i + 2:]) == 0
    assert moved.stat().st_mtime_ns == t_moved


@pytest.mark.parametrize("flags,message", [
    (["--synthetic-share", "1.5"], "fraction in [0, 1] or 'count'"),
    (["--synthetic-share", "lots"], "fraction in [0, 1] or 'count'"),
    (["--synthetic-until", "0"], "synthetic_until"),
    (["--external-test", "/nonexistent/folder"], "not a labelled folder"),
    (["--more-real", "2", "--labelled", "0"], "more_real"),
])
def test_bad_settings_are_refused_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    try:  # argparse refuses malformed values itself (SystemExit 2), the config the rest
        rc = main(["experiment", str(tmp_path), "--backbones", "test_resnet", "--out", str(out)] + flags)
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_synthetic_share_count_means_in_proportion():
    from hipvision.commands.train import share_arg

    assert share_arg("count") is None and share_arg("0.25") == 0.25


def test_poster_protocol_from_the_command_line(tmp_path, capsys):
    """`--protocol poster`: the poster's single-stage models, kept by validation loss, in the
    poster's table form; our model's rows are left out here with --ours-backbone none."""
    from hipvision.core.importer import import_folder
    from hipvision.ml.checkpoint import read_sidecar
    from hipvision.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path / "p", 14, seed=4, config=PhantomConfig(size=192))
    with Project.open(tmp_path / "p") as p:
        import_folder(p)
    out = tmp_path / "out"
    args = ["experiment", str(tmp_path / "p"), "--protocol", "poster", "--backbones", "test_resnet", "--out", str(out),
            "--poster-synthetic", "conditional", "--ours-backbone", "none",
            "--labelled", "4", "--per-real", "0.5", "--epochs", "2", "--finetune-epochs", "1", "--input-size", "64",
            "--gen-resolution", "32", "--gen-size", "tiny", "--gen-steps", "2", "--sample-steps", "2",
            "--no-pretrained", "--no-gate", "--threads", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "poster's protocol" in printed and "| poster (1 stage, MSE) | test_resnet | scratch |" in printed
    assert "our two-stage model" not in printed and "nan" not in printed.lower()  # ours left out: no "+nan %"
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["model"] for r in rows] == ["poster"] and rows[0]["synthetic"] == "2"  # 0.5 per labelled image
    meta = read_sidecar(out / "models" / "poster-test_resnet-with_conditional.safetensors")
    kept = min((h for h in meta["history"] if h["phase"] == "train"), key=lambda h: h["val_loss"])
    assert meta["selected_epoch"] == kept["epoch"] and meta["stage2"] is None
    assert not (out / "models" / "poster-test_resnet-with.safetensors").exists()  # no unconditional arm asked


@pytest.mark.parametrize("flags,message", [
    (["--protocol", "poster", "--more-real", "2"], "more_real"),
    (["--protocol", "poster", "--poster-synthetic", "dalle"], "pools"),
    (["--protocol", "poster", "--per-real", "0"], "per_real"),
    (["--protocol", "poster", "--ddpm-generator", "/nonexistent"], "ddpm_generator"),
])
def test_bad_poster_settings_are_refused_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "out"
    rc = main(["experiment", str(tmp_path), "--backbones", "test_resnet", "--out", str(out)] + flags)
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
