"""`hipvision import / export / measure` driven as a user would, on a phantom folder."""

import csv
import shutil

import pytest

from hipvision.cli import main
from hipvision.core.interchange import read_coco, read_csv
from hipvision.core.store import Project
from hipvision.phantom import PhantomConfig, generate_phantoms


@pytest.fixture(scope="module")
def phantom_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(folder, 8, seed=11, config=PhantomConfig(size=256, bit_depth=8))
    return folder


def test_import_then_export_round_trip(phantom_folder, tmp_path, capsys):
    folder = tmp_path / "p"
    shutil.copytree(phantom_folder, folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["import", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "8 added" in out and "1 unreadable" in out and "8 labelled from annotations.json" in out
    assert "broken.png" in out
    # Re-import is idempotent.
    assert main(["import", str(folder)]) == 0
    assert "8 unchanged" in capsys.readouterr().out

    truth = {i.image: i.landmarks for i in read_csv(folder / "truth.csv")}
    assert main(["export", str(folder), "--format", "csv", "--out", str(tmp_path / "x.csv")]) == 0
    assert {i.image: i.landmarks for i in read_csv(tmp_path / "x.csv")} == truth
    assert main(["export", str(folder), "--format", "coco", "--out", str(tmp_path / "x.json")]) == 0
    coco = read_coco(tmp_path / "x.json")
    assert {i.image: i.landmarks for i in coco if i.landmarks} == truth
    assert all(i.width == 256 or i.height == 256 for i in coco)

    with Project.open(folder) as p:
        recs = p.images()
        assert {r.status for r in recs if r.name != "broken.png"} == {"verified"}
        broken = p.image_by_path("broken.png")
        assert broken.status == "error" and broken.error
        assert {r.split for r in recs if not r.error} == {"train", "val", "test"}
        assert all(r.spacing is not None for r in recs if not r.error)  # from annotations.json


def test_measure_agrees_with_truth(phantom_folder, tmp_path, capsys):
    assert main(["measure", str(phantom_folder / "truth.csv"), "--out", str(tmp_path / "m.csv")]) == 0
    with open(phantom_folder / "truth.csv") as f:
        truth = {(r["image"], r["side"]): float(r["na_deg"]) for r in csv.DictReader(f)}
    with open(tmp_path / "m.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(truth) == 16
    for r in rows:
        assert abs(float(r["na_deg"]) - truth[(r["image"], r["side"])]) < 1e-9
        assert r["grade"] in ("normal", "borderline", "suspect") and 0 <= int(r["bva_points"]) <= 6
    capsys.readouterr()
    # To stdout as well.
    assert main(["measure", str(phantom_folder / "truth.csv")]) == 0
    assert capsys.readouterr().out.startswith("image,side,head_x")


def test_measure_bad_file_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,left,1,2,0,4,5\na.png,right,1,2,3,4,5\n")
    assert main(["measure", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv: line 2" in err and "head_r must be > 0" in err


def test_export_missing_project_clear_error(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "csv", "--out", str(tmp_path / "a.csv")]) == 2
    assert "no HipVision project" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("hipvision ")
