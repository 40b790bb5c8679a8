"""`hipvision experiment`: the table is written, measured on the real test split only."""

import csv
import json

import pytest

from hipvision.cli import main
from hipvision.core.store import Project


def test_experiment_writes_the_table(tmp_path, capsys):
    from hipvision.core.importer import import_folder
    from hipvision.core.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path / "p", 14, seed=4, config=PhantomConfig(size=192))
    with Project.open(tmp_path / "p") as p:
        import_folder(p)
        test_names = {r.path for r in p.images(split="test")}
    out = tmp_path / "out"
    args = ["experiment", str(tmp_path / "p"), "--backbones", "test_resnet", "--out", str(out), "--synthetic", "3",
            "--labelled", "5", "--epochs", "1", "--input-size", "64", "--crop-size", "64", "--gen-resolution", "32",
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
    assert arms["without"]["steps"] == arms["with"]["steps"] > 0  # same budget
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
