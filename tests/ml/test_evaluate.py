"""Evaluation numbers against hand-computable cases."""

import math

import pytest

from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from hipvision.ml.evaluate import evaluate
from hipvision.ml.metrics import compare, summarise
from hipvision.ml.predict import Prediction


def _rotate_rim(s: SideLandmarks, deg: float) -> SideLandmarks:
    t = math.radians(deg)
    dx, dy = s.rim_x - s.head_x, s.rim_y - s.head_y
    return SideLandmarks(s.head_x, s.head_y, s.head_r, s.head_x + dx * math.cos(t) - dy * math.sin(t),
                         s.head_y + dx * math.sin(t) + dy * math.cos(t))


TRUTH = HipLandmarks(left=SideLandmarks(700, 500, 40, 710, 450), right=SideLandmarks(300, 500, 40, 290, 450))


def test_rotating_a_rim_by_3_degrees_is_a_3_degree_error():
    pred = TRUTH.with_side("left", _rotate_rim(TRUTH.left, 3.0))
    rows = compare("a", pred, TRUTH, spacing=(0.2, 0.2))
    m = summarise(rows)
    assert m["na_mae"] == pytest.approx(1.5)  # 3 degrees on one hip of two
    assert m["na_max_ae"] == pytest.approx(3.0)
    left = next(r for r in rows if r.side == "left")
    assert m["na_mape"] == pytest.approx(3.0 / left.na_true * 100 / 2)
    assert m["within_5"] == 100.0 and m["head_err_px"] == 0.0
    chord = 2 * math.hypot(10, 50) * math.sin(math.radians(1.5))
    assert left.rim_err_px == pytest.approx(chord) and left.rim_err_mm == pytest.approx(0.2 * chord)


def test_grade_agreement_counts_grade_flips():
    na = TRUTH.norberg_angle("left")
    pred = TRUTH.with_side("left", _rotate_rim(TRUTH.left, 8.0 if na < 105 else -8.0))
    m = summarise(compare("a", pred, TRUTH))
    assert m["within_10"] == 100.0 and m["within_5"] == 50.0
    from hipvision.core.grading import grade_hint

    flipped = grade_hint(na) != grade_hint(pred.norberg_angle("left"))  # does 8 degrees cross a grade line?
    assert m["grade_agreement"] == (50.0 if flipped else 100.0)


class _Perfect:
    """A predictor that returns the truth (and one that is off by a fixed rim rotation)."""

    model_id, description = "perfect", "perfect (test)"

    def __init__(self, truths, rotate=0.0):
        self.truths, self.rotate = truths, rotate

    def predict_batch(self, images, mappings):
        out = []
        for img in images:
            t = self.truths[id(img)]
            t = t.with_side("right", _rotate_rim(t.right, self.rotate))
            out.append(Prediction(landmarks=t, confidence={}, na={}, low_confidence=[], model_id="perfect"))
        return out


def test_evaluate_reports_per_split(phantom_samples):
    truths = {id(s.image): s.landmarks for s in phantom_samples}
    rep = evaluate(_Perfect(truths), phantom_samples, splits=("train", "val"))
    assert set(rep.by_split) == {"train", "val", "all"}
    assert rep.by_split["train"]["images"] == 8 and rep.by_split["val"]["hips"] == 4
    assert rep.by_split["all"]["na_mae"] == 0.0 and rep.by_split["all"]["grade_agreement"] == 100.0
    off = evaluate(_Perfect(truths, rotate=4.0), phantom_samples, splits=("val",))
    assert off.by_split["val"]["na_mae"] == pytest.approx(2.0, abs=1e-6)
    md = off.to_markdown()
    assert "| val | 2 | 4 | 100.0 | 2.00 |" in md  # heads located, then the NA MAE
    assert off.csv_text().count("\n") == 1 + 4


def test_a_head_counts_as_located_within_a_tenth_of_the_inter_head_distance():
    from hipvision.core.landmarks import HipLandmarks, SideLandmarks
    from hipvision.ml.metrics import compare, summarise

    truth = HipLandmarks(left=SideLandmarks(300.0, 200.0, 20.0, 290.0, 170.0),
                         right=SideLandmarks(100.0, 200.0, 20.0, 110.0, 170.0))  # heads 200 px apart
    near = truth.with_side("left", SideLandmarks(300.0 + 19.0, 200.0, 20.0, 290.0, 170.0))
    far = truth.with_side("left", SideLandmarks(300.0 + 21.0, 200.0, 20.0, 290.0, 170.0))
    assert [r.head_located for r in compare("a", near, truth)] == [True, True]
    rows = compare("b", far, truth)
    assert [r.head_located for r in rows] == [False, True]
    assert summarise(rows)["located"] == 50.0


def test_the_report_splits_the_error_by_true_head_size():
    from hipvision.ml.evaluate import EvalReport
    from hipvision.ml.metrics import by_head_size

    small = HipLandmarks(left=SideLandmarks(140, 100, 6, 142, 92), right=SideLandmarks(60, 100, 6, 58, 92))
    rows = compare("big", TRUTH.with_side("left", _rotate_rim(TRUTH.left, 2.0)), TRUTH)  # 40 px heads
    rows += compare("small", small.with_side("left", _rotate_rim(small.left, 12.0)), small)  # 6 px heads
    assert sorted(r.head_radius_px for r in rows) == [6, 6, 40, 40]
    bands = dict(by_head_size(rows))
    assert set(bands) == {"< 10 px", ">= 40 px"}
    assert bands["< 10 px"]["na_mae"] == pytest.approx(6.0) and bands[">= 40 px"]["na_mae"] == pytest.approx(1.0)
    report = EvalReport(model_id="m", model_description="m", by_split={"all": summarise(rows)}, rows=rows)
    text = report.to_markdown()
    assert "By true head radius" in text
    assert "| < 10 px | 2 | 100.0 | 6.00 |" in text and "| >= 40 px | 2 | 100.0 | 1.00 |" in text
    assert "head_radius_px" in report.csv_text().splitlines()[0]
