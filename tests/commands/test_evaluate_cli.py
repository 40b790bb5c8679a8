"""`hipvision evaluate`: a markdown table and a per-hip CSV."""

import csv

from hipvision.cli import main
from tests.ml.conftest import phantom_cases, phantom_folder, phantom_samples, tiny_model  # noqa: F401 (fixtures)


def test_evaluate_a_labelled_folder(tmp_path, phantom_folder, tiny_model, capsys):
    rep, rows = tmp_path / "r.md", tmp_path / "r.csv"
    rc = main(["evaluate", str(phantom_folder), "--model", str(tiny_model.checkpoint), "--report", str(rep),
               "--csv", str(rows), "--no-tta"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| all | 6 | 12 |" in out and "NA MAE (°)" in out
    assert rep.read_text() == out
    table = list(csv.DictReader(rows.open()))
    assert len(table) == 12 and {r["side"] for r in table} == {"left", "right"}
    assert all(float(r["na_abs_err"]) == abs(float(r["na_pred"]) - float(r["na_true"])) for r in table)


def test_evaluate_a_project_split_with_its_active_model(tmp_path, phantom_folder, tiny_model, capsys):
    import shutil

    from hipvision.core.store import Project
    from hipvision.ml.registry import register_model

    folder = tmp_path / "proj"
    shutil.copytree(phantom_folder, folder)
    assert main(["import", str(folder)]) == 0
    with Project.open(folder, create=False) as project:
        reg = register_model(project, tiny_model.checkpoint, activate=True)
        assert reg.activated
        counts = {s: len(project.labelled((s,))) for s in ("train", "val", "test")}
    capsys.readouterr()
    assert main(["evaluate", str(folder), "--split", "train", "--split", "val", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "Evaluation of tiny" in out
    for split, n in counts.items():
        if n:
            assert f"| {split} | {n} | {2 * n} |" in out
