import pytest

from hipvision.core.demo_project import demo_dir, prepare_demo_project
from hipvision.core.landmarks import HipLandmarks
from hipvision.core.store import Project


def test_first_run_copies_and_imports_later_runs_keep_edits(phantom_folder, tmp_path):
    target = prepare_demo_project(source=phantom_folder)
    assert target == demo_dir() and str(tmp_path / "userdata") in str(target)
    with Project.open(target) as p:
        recs = p.images()
        assert len(recs) == len(list(phantom_folder.glob("*.png")))
        assert all(r.status == "verified" for r in recs)  # labels came along
        lm = p.current_landmarks(recs[0].id)
        edited = HipLandmarks(left=lm.left.moved(3, 0), right=lm.right)
        p.save_annotation(recs[0].id, edited)
    assert prepare_demo_project(source=phantom_folder) == target
    with Project.open(target) as p:
        assert p.current_landmarks(recs[0].id) == edited


def test_missing_samples_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        prepare_demo_project(tmp_path / "demo", source=tmp_path / "nowhere")
