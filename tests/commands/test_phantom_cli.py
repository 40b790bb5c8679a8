"""`hipvision phantom`: images plus COCO and CSV labels that read back and agree."""

from __future__ import annotations

import csv

import cv2
import pytest

from hipvision.cli import main
from hipvision.core.interchange import read_coco, read_csv
from hipvision.core.landmarks import Side
from hipvision.core.radiograph import load_radiograph


def test_phantom_writes_images_and_agreeing_labels(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["phantom", str(out), "-n", "3", "--seed", "7", "--size", "256", "--bit-depth", "8"]) == 0
    captured = capsys.readouterr()
    assert str(out) in captured.out and "3 image(s)" in captured.out
    assert "phantoms" in captured.err  # the progress bar is on stderr, stdout stays clean
    names = [f"phantom_{i:04d}.png" for i in range(3)]
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "annotations.json", "truth.csv"])

    coco = {it.image: it for it in read_coco(out / "annotations.json")}
    flat = {it.image: it for it in read_csv(out / "truth.csv")}
    assert sorted(coco) == sorted(flat) == names
    for name in names:
        img = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert img.dtype.name == "uint8" and max(img.shape) == 256
        assert (coco[name].width, coco[name].height) == img.shape[::-1]
        assert coco[name].landmarks == flat[name].landmarks
        lm = coco[name].landmarks
        for side in Side:
            s = lm.side(side)
            assert 0 <= s.head_x < img.shape[1] and 0 <= s.head_y < img.shape[0]

    # the CSV's na_deg is what `hipvision measure` recomputes from its coordinates
    assert main(["measure", str(out / "truth.csv"), "--out", str(tmp_path / "m.csv")]) == 0
    truth = {(r["image"], r["side"]): float(r["na_deg"]) for r in csv.DictReader(open(out / "truth.csv"))}
    measured = {(r["image"], r["side"]): float(r["na_deg"]) for r in csv.DictReader(open(tmp_path / "m.csv"))}
    assert truth.keys() == measured.keys()
    assert all(abs(truth[k] - measured[k]) < 1e-9 for k in truth)

    # same seed, larger n: the first images are the same files
    again = tmp_path / "again"
    assert main(["phantom", str(again), "-n", "4", "--seed", "7", "--size", "256", "--bit-depth", "8", "--quiet"]) == 0
    assert all((again / n).read_bytes() == (out / n).read_bytes() for n in names)


def test_phantom_dicom_carries_spacing_and_matches_labels(tmp_path, capsys):
    out = tmp_path / "dcm"
    assert main(["phantom", str(out), "-n", "1", "--seed", "2", "--size", "256", "--format", "dicom",
                 "--compress", "jpeg2000", "--na-min", "75", "--na-max", "95", "--quiet"]) == 0
    (item,) = read_coco(out / "annotations.json")
    assert item.image == "phantom_0000.dcm"
    rg = load_radiograph(out / item.image)
    assert rg.bit_depth == 16 and rg.metadata.get("TransferSyntax", "").startswith("JPEG 2000")
    assert rg.spacing == pytest.approx(item.spacing, rel=1e-9)
    assert (rg.width, rg.height) == (item.width, item.height)
    for side in Side:
        assert 75.0 <= item.landmarks.norberg_angle(side) <= 95.0


@pytest.mark.parametrize("argv, words", [
    (["--na-min", "120", "--na-max", "110"], ("na_range", "120")),
    (["--size", "16"], ("size", "16")),
    (["--compress", "jpeg2000"], ("--compress", "dicom")),
    (["-n", "0"], ("-n", "0")),
])
def test_phantom_bad_options_fail_with_a_message(tmp_path, capsys, argv, words):
    assert main(["phantom", str(tmp_path / "x"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words)
    assert not (tmp_path / "x").exists()
