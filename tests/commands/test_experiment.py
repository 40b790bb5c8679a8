"""`hipvision experiment`: the table is written, measured on the real test split only."""

import csv
import json

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
    rc = main(["experiment", str(tmp_path / "p"), "--backbones", "test_resnet", "--out", str(out), "--synthetic", "3",
               "--labelled", "5", "--epochs", "1", "--input-size", "64", "--crop-size", "64", "--gen-resolution", "32",
               "--gen-size", "tiny", "--gen-steps", "2", "--sample-steps", "2", "--no-pretrained", "--no-gate",
               "--threads", "1"])
    assert rc == 0
    assert "| test_resnet |" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 1 and rows[0]["backbone"] == "test_resnet"
    assert rows[0]["labelled"] == "5" and rows[0]["synthetic"] == "3"
    assert int(rows[0]["test_hips"]) == 2 * len(test_names)
    mae0, mae1 = float(rows[0]["mae_without"]), float(rows[0]["mae_with"])
    assert float(rows[0]["mae_improvement_pct"]) == __import__("pytest").approx((mae0 - mae1) / mae0 * 100, abs=1e-3)
    info = json.loads((out / "experiment.json").read_text())
    arms = {a["arm"]: a for a in info["arms"]}
    assert arms["without"]["steps"] == arms["with"]["steps"] > 0  # same budget
    assert arms["with"]["synthetic"] == 3 and arms["without"]["synthetic"] == 0
    assert len(info["chosen_images"]) == 5 and not set(info["chosen_images"]) & test_names
    assert (out / "results.md").read_text().startswith("# Diffusion augmentation")
    with Project.open(tmp_path / "p", create=False) as p:  # the project is not changed
        assert not p.images(source="synthetic")
