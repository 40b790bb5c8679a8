import json

import numpy as np
import pytest

from hipvision.core.interchange import (
    CSV_COLUMNS,
    AnnotatedImage,
    InterchangeError,
    read_coco,
    read_csv,
    write_coco,
    write_csv,
)
from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping


def random_items(n, seed=0):
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        v = rng.uniform(0, 4300, 8)
        lm = HipLandmarks(left=SideLandmarks(v[0], v[1], rng.uniform(20, 200), v[2], v[3]),
                          right=SideLandmarks(v[4], v[5], rng.uniform(20, 200), v[6], v[7]))
        items.append(AnnotatedImage(image=f"sub/img {i}.png", landmarks=lm, width=4300, height=3500,
                                    spacing=(0.139, 0.14) if i % 2 else None, mapping=SideMapping(bool(i % 3))))
    return items


def test_csv_round_trip_bit_exact(tmp_path):
    items = random_items(25)
    path = write_csv(tmp_path / "a.csv", items)
    header = path.read_text().splitlines()[0]
    assert header == ",".join(CSV_COLUMNS)
    back = read_csv(path)
    assert [b.landmarks for b in back] == [i.landmarks for i in items]  # == on floats: bit exact
    rows = path.read_text().splitlines()[1:]
    assert len(rows) == 50
    na = float(rows[0].split(",")[-1])
    assert na == items[0].landmarks.norberg_angle("left")


def test_coco_round_trip_exact(tmp_path):
    items = random_items(10, seed=1) + [AnnotatedImage("unlabelled.png", None, 10, 10)]
    back = read_coco(write_coco(tmp_path / "a.json", items))
    assert back == items
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["categories"][0]["keypoints"][0] == "right_head_center"
    assert len(data["annotations"]) == 10 and len(data["images"]) == 11


@pytest.mark.parametrize("text,msg", [
    ("image,side,head_x\n", "missing column"),
    ("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,up,1,2,3,4,5\n", "line 2: side must be left or right"),
    ("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,left,1,2,abc,4,5\n", "line 2"),
    ("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,left,1,2,-3,4,5\n", "head_r must be > 0"),
    ("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,left,1,2,3,4,5\n", "only a left row"),
    ("image,side,head_x,head_y,head_r,rim_x,rim_y\na.png,left,1,2,3,4,5\na.png,left,1,2,3,4,5\n", "duplicate left"),
])
def test_csv_errors_name_file_and_line(tmp_path, text, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InterchangeError, match=msg) as e:
        read_csv(p)
    assert "bad.csv" in str(e.value)


def test_coco_errors(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(InterchangeError, match="bad.json: not a COCO"):
        read_coco(p)
    p.write_text(json.dumps({"images": [{"id": 1, "file_name": "a"}],
                             "annotations": [{"id": 5, "image_id": 1, "keypoints": [1, 2, 2]}]}))
    with pytest.raises(InterchangeError, match="annotation 5"):
        read_coco(p)


def test_project_export_marks_unreviewed_predictions(project_dir, tmp_path):
    import csv as csv_module
    import json

    from hipvision.core.exporter import export_project
    from hipvision.core.store import Project

    with Project.open(project_dir) as p:
        recs = p.images()
        lm = p.current_landmarks(recs[0].id)
        p.save_annotation(recs[0].id, None, status="new")
        p.save_prediction(recs[0].id, lm, model_id=5)
        out, n = export_project(p, tmp_path / "e.csv", "csv")
        coco, _ = export_project(p, tmp_path / "e.json", "coco")
        only, n_only = export_project(p, tmp_path / "r.csv", "csv", include_unreviewed=False)
    rows = list(csv_module.DictReader(out.open()))
    mine = [r for r in rows if r["image"] == recs[0].path]
    assert len(mine) == 2 and all(r["status"] == "predicted" and r["reviewed"] == "no" and r["author"] == "model:5"
                                  for r in mine)
    assert all(r["reviewed"] == "yes" for r in rows if r["image"] != recs[0].path)
    anns = json.loads(coco.read_text())["annotations"]
    assert sorted(a["reviewed"] for a in anns) == [False] + [True] * (len(anns) - 1)
    assert n_only == n - 1 and recs[0].path not in only.read_text()
    assert len(read_csv(out)) == n  # the review columns do not disturb reading it back
