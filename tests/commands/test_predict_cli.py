"""`hipvision predict`: CSV and JSON that the interchange readers accept."""

import json

from hipvision.cli import main
from hipvision.core.interchange import read_csv
from tests.ml.conftest import phantom_cases, phantom_folder, phantom_samples, tiny_model  # noqa: F401 (fixtures)


def test_predict_a_folder_writes_a_parseable_flat_csv(tmp_path, phantom_folder, tiny_model, capsys):
    out = tmp_path / "pred.csv"
    rc = main(["predict", str(phantom_folder), "--model", str(tiny_model.checkpoint), "--out", str(out), "--no-tta"])
    assert rc == 0
    items = read_csv(out)
    names = sorted(p.name for p in phantom_folder.glob("*.png"))
    assert sorted(i.image.rsplit("/", 1)[-1] for i in items) == names
    header = out.read_text().splitlines()[0]
    assert header == "image,side,head_x,head_y,head_r,rim_x,rim_y,na_deg"
    assert "trained on synthetic phantoms" in capsys.readouterr().err


def test_predict_json_to_stdout_has_confidence_and_angles(phantom_folder, tiny_model, capsys):
    img = sorted(phantom_folder.glob("*.png"))[0]
    assert main(["predict", str(img), "--model", str(tiny_model.checkpoint), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 1 and data[0]["image"] == str(img)
    assert set(data[0]["na_deg"]) == {"left", "right"}
    assert set(data[0]["confidence"]) >= {"left.head", "right.rim"}


def test_predict_missing_input_or_bad_model_is_a_one_line_error(tmp_path, tiny_model, capsys):
    assert main(["predict", str(tmp_path / "nope.png"), "--model", str(tiny_model.checkpoint)]) == 2
    assert "nope.png: no such file or folder" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"x")
    img = tmp_path / "img.png"
    img.write_bytes(b"x")
    assert main(["predict", str(img), "--model", str(bad)]) == 2
    assert "bad.safetensors" in capsys.readouterr().err
