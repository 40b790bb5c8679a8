"""The real-dev-set evaluation, driven on phantoms written in the reference format (the real
references have no licence and never enter the repository or its tests)."""

import json
import math

import numpy as np
import pytest

from hipvision.cli import main
from hipvision.ml.devset import (
    RADIUS_PER_INTER_HEAD,
    ReferenceImage,
    read_reference,
    simulated_clicks,
    summarise_reference,
)


@pytest.fixture(scope="module")
def reference_folder(tmp_path_factory):
    """Two classic phantoms as JPEGs plus a landmarks JSON in the reference's format."""
    import cv2

    from hipvision.phantom import PhantomConfig, render_phantom

    folder = tmp_path_factory.mktemp("reference")
    items = []
    for i, seed in enumerate((31, 32)):
        case = render_phantom(seed, PhantomConfig(size=512))
        img8 = (case.pixels / 257).astype(np.uint8)
        name = f"ref_{i}.jpg"
        cv2.imwrite(str(folder / name), img8, [cv2.IMWRITE_JPEG_QUALITY, 95])
        left, right = case.mapping.to_image_order(case.landmarks)
        items.append({"image": name, "width": img8.shape[1], "height": img8.shape[0],
                      "image_left": {"head": [left.head_x, left.head_y], "rim": [left.rim_x, left.rim_y]},
                      "image_right": {"head": [right.head_x, right.head_y], "rim": [right.rim_x, right.rim_y]}})
    (folder / "landmarks.json").write_text(json.dumps(items))
    return folder


def test_simulated_clicks_miss_each_head_by_the_stated_share_of_a_radius():
    ref = ReferenceImage(path=None, heads=np.array([[100.0, 200.0], [300.0, 200.0]]), rims=np.zeros((2, 2)))
    clicks = simulated_clicks(ref, 1 / 3, np.random.default_rng(0))
    miss = np.hypot(*(clicks - ref.heads).T)
    np.testing.assert_allclose(miss, RADIUS_PER_INTER_HEAD * 200.0 / 3)


def test_a_bad_reference_file_is_named(tmp_path):
    (tmp_path / "x.json").write_text('[{"image": "a.jpg"}]')
    with pytest.raises(ValueError, match="x.json"):
        read_reference(tmp_path)


def test_bench_real_reports_located_heads_and_na_errors_both_ways(reference_folder, capsys):
    assert main(["bench", "real", str(reference_folder), "--click-trials", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 real radiographs" in out and "ref_0.jpg" in out and "ref_1.jpg" in out
    # the bundled model measures classic phantoms well, both automatically and from clicks
    for mode in ("auto", "clicks"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{mode}:"))
        located = float(line.split("heads located")[1].split("%")[0])
        within = float(line.split("within 10 deg")[1].split("%")[0])
        assert located == 100 and within >= 75, line
    assert "second click -> circles" in out and "median" in out


def test_summary_counts_a_missing_angle_as_a_miss():
    from hipvision.ml.devset import HipResult

    rows = [HipResult("a", "image_left", "auto", 100.0, float("nan"), 500.0, False),
            HipResult("a", "image_right", "auto", 100.0, 103.0, 2.0, True)]
    s = summarise_reference(rows, "auto")
    assert s["located"] == 50 and s["within_10"] == 50 and math.isfinite(s["na_mae"])


def test_summary_counts_wrong_hips_the_app_would_show_as_a_measurement():
    from hipvision.ml.devset import HipResult

    rows = [HipResult("a", "image_left", "auto", 100.0, 60.0, 500.0, False, doubtful=True),  # wrong, flagged
            HipResult("a", "image_right", "auto", 100.0, 80.0, 3.0, True, doubtful=False),  # wrong NA, shown
            HipResult("b", "image_left", "auto", 100.0, 101.0, 3.0, True, doubtful=False),  # right, shown
            HipResult("b", "image_right", "auto", 100.0, 99.0, 3.0, True, doubtful=True)]  # right, flagged
    s = summarise_reference(rows, "auto")
    assert s["doubtful"] == 50 and s["wrong_unflagged"] == 1


def test_bench_real_says_how_many_failures_would_pass_as_measurements(reference_folder, capsys):
    assert main(["bench", "real", str(reference_folder), "--click-trials", "1", "--repeats", "1"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "flagged doubtful" in ln)
    assert line.rstrip().endswith("not flagged): 0"), line  # the bundled model on classic phantoms
