"""The place-with-clicks job: validated clicks, refined landmarks, nothing written."""

import math

import pytest

from hipvision.ml.place_job import PlaceJob, place_hips


def test_clicks_on_one_spot_or_not_finite_are_refused():
    with pytest.raises(ValueError, match="same spot"):
        PlaceJob("/p", 1, ((10.0, 10.0), (10.5, 10.0)))
    with pytest.raises(ValueError, match="two finite"):
        PlaceJob("/p", 1, ((10.0, float("nan")), (50.0, 10.0)))


def test_place_job_refines_from_rough_clicks_and_writes_nothing(tmp_path):
    from hipvision.core.importer import import_folder
    from hipvision.core.store import Project
    from hipvision.phantom import PhantomConfig, generate_phantoms

    generate_phantoms(tmp_path, 1, seed=4, config=PhantomConfig(size=512))
    with Project.open(tmp_path) as p:
        import_folder(p)
        rec = p.images()[0]
        truth = p.current_landmarks(rec.id)
        n_revisions = len(p.annotation_history(rec.id)) if hasattr(p, "annotation_history") else None
    left, right = rec.mapping.to_image_order(truth)
    r = left.head_r
    clicks = ((right.head_x - r / 3, right.head_y), (left.head_x, left.head_y + r / 3))  # any order
    result = place_hips(PlaceJob(str(tmp_path), rec.id, clicks, "cpu"))
    for side in ("left", "right"):
        got, want = result.landmarks.side(side), truth.side(side)
        assert math.hypot(got.head_x - want.head_x, got.head_y - want.head_y) < 0.3 * want.head_r
        assert abs(result.landmarks.norberg_angle(side) - truth.norberg_angle(side)) < 5.0
    with Project.open(tmp_path) as p:
        assert p.current_landmarks(rec.id) == truth  # the window applies it, not the job
        if n_revisions is not None:
            assert len(p.annotation_history(rec.id)) == n_revisions
