"""Hostile label files never abort an import: the images and the good entries come in, each
bad entry is reported with the file and a reason, and a string "false" never swaps the hips."""

from __future__ import annotations

import math

import pytest

from hipvision.bench.robustness_corpus import DELETE, set_path
from hipvision.cli import main
from hipvision.core.importer import import_folder
from hipvision.core.store import Project
from tests.robustness.conftest import N_IMAGES, load_json, write_json

KP = ("annotations", 0, "keypoints")

# kind: (corruption, the entry reported ("" = none), how many images keep their labels)
JSON_KINDS = {
    "annotations_null": (set_path(("annotations",), None), "annotations", 0),
    "annotations_ints": (lambda d: d["annotations"].extend([1, 2]), "annotations[3]", 3),
    "missing_file_name": (set_path(("images", 0, "file_name"), DELETE), "image 1", 2),
    "width_null": (set_path(("images", 0, "width"), None), "", 3),  # an unknown size, not an error
    "scalar_spacing": (set_path(("images", 0, "pixel_spacing_mm"), 0.2), "image 1", 2),
    "huge_spacing": (set_path(("images", 0, "pixel_spacing_mm"), [1e300, 1e300]), "image 1", 2),
    "zero_spacing": (set_path(("images", 0, "pixel_spacing_mm"), [0, 0.2]), "image 1", 2),
    "string_false": (set_path(("images", 0, "right_on_image_left"), "false"), "image 1", 2),
    "big_int": (set_path((*KP, 0), 10**400), "annotation 1", 2),
    "huge_coordinate": (set_path((*KP, 1), 1e308), "annotation 1", 2),
    "negative_coordinate": (set_path((*KP, 3), -1e308), "annotation 1", 2),
    "nan_coordinate": (set_path((*KP, 0), math.nan), "annotation 1", 2),
    "inf_coordinate": (set_path((*KP, 4), math.inf), "annotation 1", 2),
    "string_keypoints": (lambda d: d["annotations"][0].update(keypoints=[str(v) for v in d["annotations"][0][KP[2]]]),
                         "annotation 1", 2),
    "nul_in_file_name": (set_path(("images", 0, "file_name"), "phantom_0000\x00.png"), "image 1", 2),
    "escaping_file_name": (set_path(("images", 0, "file_name"), "../../outside.png"), "../../outside.png", 2),
    "duplicate_annotation": (lambda d: d["annotations"].append(dict(d["annotations"][0], id=99)), "annotation 99", 3),
}
TEXT_KINDS = {  # the whole file is bad: reported, the images still come in
    "nested_brackets": "[" * 200_000,
    "list_of_one": "[1]\n",
    "nul_byte": '{"images": [\x00]}',
}


def _import(folder):
    with Project.open(folder) as project:
        report = import_folder(project)
        mappings = [rec.mapping.right_on_image_left for rec in project.images()]
    return report, mappings


def _check(report, mappings, label_file, entry, n_good):
    assert len(report.added) == N_IMAGES and not report.errors
    assert report.labels_imported == n_good
    if entry:
        hits = [p for p in report.label_problems if entry in p.entry and p.reason]
        assert hits, report.label_problems
        assert all(p.file.endswith(label_file) for p in hits)
    assert all(mappings)  # no string "false" (nor anything else) swapped the hips


@pytest.mark.parametrize("kind", sorted(JSON_KINDS))
def test_hostile_coco_entry(phantom_folder, kind, capsys):
    corrupt, entry, n_good = JSON_KINDS[kind]
    data = load_json(phantom_folder)
    corrupt(data)
    write_json(phantom_folder, data)
    _check(*_import(phantom_folder), "annotations.json", entry, n_good)
    assert main(["import", str(phantom_folder)]) == 0
    out = capsys.readouterr().out
    assert not entry or f"label rejected: {phantom_folder / 'annotations.json'}: {entry}" in out


@pytest.mark.parametrize("kind", sorted(TEXT_KINDS))
def test_unparseable_coco_file(phantom_folder, kind, capsys):
    (phantom_folder / "annotations.json").write_text(TEXT_KINDS[kind])
    report, mappings = _import(phantom_folder)
    _check(report, mappings, "annotations.json", "", 0)
    (problem,) = report.label_problems
    assert problem.file.endswith("annotations.json") and problem.entry == "" and problem.reason
    assert main(["import", str(phantom_folder)]) == 0
    assert "label rejected:" in capsys.readouterr().out


def _csv_lines(folder):
    (folder / "annotations.json").unlink()  # so truth.csv is the label file read
    return (folder / "truth.csv").read_text().splitlines()


CSV_KINDS = {  # kind: (lines -> lines, the entry reported, images labelled, measure's exit code)
    "only_image": (lambda ls: [*ls, "phantom_0000.png"], "line 8", 3, 2),
    "overlong_field": (lambda ls: [*ls, "x" * 200_000 + ",left,1,2,3,4,5"], "line 8", 3, 2),
    "nul_image_name": (lambda ls: [*ls, "a\x00.png,left,10,10,3,12,8", "a\x00.png,right,50,10,3,48,8"], "line 8", 3, 2),
    "nan_value": (lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[2], "nan", 1), *ls[2:]], "line 2", 2, 2),
    "inf_value": (lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[3], "-inf", 1), *ls[2:]], "line 2", 2, 2),
    # Within the CSV's blind bound (no image size there) but 500 sides off a 192 px image.
    "far_coordinate": (lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[2], "99999.0", 1), *ls[2:]],
                       "phantom_0000.png", 2, 0),
}


@pytest.mark.parametrize("kind", sorted(CSV_KINDS))
def test_hostile_csv(phantom_folder, kind, capsys):
    corrupt, entry, n_good, measure_rc = CSV_KINDS[kind]
    (phantom_folder / "truth.csv").write_text("\n".join(corrupt(_csv_lines(phantom_folder))) + "\n")
    _check(*_import(phantom_folder), "truth.csv", entry, n_good)
    assert main(["import", str(phantom_folder)]) == 0
    capsys.readouterr()
    assert main(["measure", str(phantom_folder / "truth.csv")]) == measure_rc
    if measure_rc == 2:
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "truth.csv" in err and "line" in err and "Traceback" not in err
