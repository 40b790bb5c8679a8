"""The promotion rule with few images: better on average, and not by one image's luck."""

import pytest

from hipvision.ml.promotion import folds_of, judge


def test_a_model_better_on_most_images_is_promoted():
    c = judge(["a", "b", "c", "d"], [8.0, 6.0, 7.0, 5.0], [4.0, 5.0, 6.5, 5.5], basis="validation")
    assert c.better and c.reason.endswith("(better)")
    assert c.old_mae == pytest.approx(6.5) and c.new_mae == pytest.approx(5.25)
    assert "on the same 4 validation images" in c.reason


def test_a_model_better_only_thanks_to_one_image_is_not_promoted():
    # Mean gain 2.5 deg, all of it from image a; without a the new model is worse.
    c = judge(["a", "b", "c", "d"], [20.0, 5.0, 5.0, 5.0], [8.0, 6.0, 5.5, 5.5], basis="cross-validation", folds=3)
    assert c.new_mae < c.old_mae
    assert not c.better and "one image" in c.reason
    assert "cross-validated (3 folds) on the 4 corrected images" in c.reason


def test_fixing_one_failed_image_while_matching_the_rest_is_progress():
    # Image a was a failure (heads not found); elsewhere the new model ties within noise.
    c = judge(["a", "b", "c", "d"], [45.0, 3.0, 4.0, 2.0], [3.0, 3.2, 4.1, 2.1], basis="cross-validation", folds=3)
    assert c.better


def test_a_worse_model_is_not_promoted():
    c = judge(["a", "b"], [3.0, 3.0], [3.5, 2.9], basis="validation")
    assert not c.better and c.reason.endswith("(not better)")


def test_one_image_never_decides():
    c = judge(["a"], [30.0], [1.0], basis="validation")
    assert not c.better and "one image cannot show" in c.reason


def test_judge_needs_matching_errors():
    with pytest.raises(ValueError):
        judge(["a", "b"], [1.0], [1.0, 2.0], basis="validation")


@pytest.mark.parametrize("n,k", [(3, 3), (6, 3), (7, 3), (2, 2)])
def test_folds_are_disjoint_and_cover_every_image(n, k):
    folds = folds_of(list(range(n)), k)
    flat = sorted(i for f in folds for i in f)
    assert flat == list(range(n)) and len(folds) == k and all(folds)
