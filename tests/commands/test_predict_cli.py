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
    assert header == "image,side,head_x,head_y,head_r,rim_x,rim_y,na_deg,status,concerns"
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


def test_predict_with_heads_refines_from_two_rough_clicks(tmp_path, capsys):
    """`predict IMAGE --heads X1,Y1,X2,Y2` (image-left head first), with the bundled model."""
    import math

    from hipvision.core.interchange import read_coco
    from hipvision.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path, 1, seed=8, config=PhantomConfig(size=512))
    item = read_coco(tmp_path / "annotations.json")[0]
    left, right = item.mapping.to_image_order(item.landmarks)
    r = left.head_r
    heads = f"{left.head_x + r / 3:.1f},{left.head_y:.1f},{right.head_x:.1f},{right.head_y - r / 3:.1f}"
    out = tmp_path / "placed.csv"
    assert main(["predict", str(tmp_path / item.image), "--heads", heads, "--out", str(out)]) == 0
    got = read_csv(out)[0].landmarks
    for side in ("left", "right"):
        g, t = got.side(side), item.landmarks.side(side)
        assert math.hypot(g.head_x - t.head_x, g.head_y - t.head_y) < 0.3 * t.head_r
        assert abs(got.norberg_angle(side) - item.landmarks.norberg_angle(side)) < 5.0
    for bad, message in (("1,2,3", "four"), ("1,2,x,4", "four numbers"), ("5,5,5,5", "same spot")):
        assert main(["predict", str(tmp_path / item.image), "--heads", bad]) == 2
        assert message in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(tmp_path / item.image), "--heads", heads]) == 2
    assert "one image" in capsys.readouterr().err


def test_a_doubtful_prediction_is_not_printed_as_a_measurement(tmp_path, capsys):
    import csv

    import cv2
    import numpy as np

    from hipvision.phantom import PhantomConfig, generate_phantoms

    folder = tmp_path / "films"
    generate_phantoms(folder, 1, seed=5, config=PhantomConfig(size=512))
    noise = (np.random.default_rng(0).random((512, 512)) * 255).astype(np.uint8)
    assert cv2.imwrite(str(folder / "noise.png"), noise)  # no pelvis: the model can only guess
    out = tmp_path / "pred.csv"
    assert main(["predict", str(folder), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    by_image = {}
    for r in rows:
        by_image.setdefault(r["image"].rsplit("/", 1)[-1], []).append(r)
    assert {r["status"] for r in by_image["noise.png"]} == {"doubtful"}
    assert all(r["na_deg"] == "" and r["concerns"] and r["head_x"] for r in by_image["noise.png"])
    assert all("low model confidence" in r["concerns"] for r in by_image["noise.png"])  # the model's own doubt
    phantom = next(k for k in by_image if k != "noise.png")
    assert {r["status"] for r in by_image[phantom]} == {"predicted"}
    assert all(40 < float(r["na_deg"]) < 140 and r["concerns"] == "" for r in by_image[phantom])
    err = capsys.readouterr().err
    assert "1 of 2 prediction(s) are doubtful and carry no NA" in err and "noise.png:" in err
    assert read_csv(out)  # the interchange reader still takes it (landmarks kept)

    assert main(["predict", str(folder / "noise.png"), "--format", "json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["status"] == "doubtful" and item["na_deg"] == {"left": None, "right": None}
    assert set(item["na_deg_doubtful"]) == {"left", "right"} and item["concerns"]
