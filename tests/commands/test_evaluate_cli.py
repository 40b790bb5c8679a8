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
