from hipvision.annotation.state import load_state, row_summary
from hipvision.core.grading import Grade
from hipvision.core.landmarks import HipLandmarks, SideLandmarks
from hipvision.core.store import Project

LM = HipLandmarks(left=SideLandmarks(300, 200, 30, 290, 170), right=SideLandmarks(100, 205, 28, 75, 172))


def test_kinds_follow_the_store(project_dir):
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        assert load_state(p, rec.id).kind == "verified"  # imported labels
        p.save_annotation(rec.id, None, status="new")
        st = load_state(p, rec.id)
        assert st.kind == "unplaced" and not st.placed and st.shown is not None
        assert p.save_prediction(rec.id, LM, model_id=3)
        st = load_state(p, rec.id)
        assert st.kind == "model" and st.has_prediction and st.shown == LM
        p.save_annotation(rec.id, LM)
        assert load_state(p, rec.id).kind == "user"


def test_row_summary():
    s = row_summary(LM)
    assert s.worst is Grade.SUSPECT and s.text("right") == f"{LM.norberg_angle('right'):.1f}°"
    assert row_summary(None).worst is None and row_summary(None).text("left") == "–"
    doubtful = row_summary(LM, kind="flagged")  # a doubtful prediction: no grade, the angle marked
    assert doubtful.worst is None and doubtful.text("right") == f"{LM.norberg_angle('right'):.1f}° ?"


def test_confidence_note_only_for_unreviewed_model_labels(project_dir):
    with Project.open(project_dir) as p:
        rec = p.images()[0]
        assert load_state(p, rec.id).confidence_note == ""  # imported labels: no model confidence
        p.save_annotation(rec.id, None, status="new")
        p.save_prediction(rec.id, LM, model_id=3, confidence={"left_head": 0.5, "right_rim": 0.25})
        assert load_state(p, rec.id).confidence_note == "Model confidence: left_head 0.50, right_rim 0.25"
        p.save_annotation(rec.id, LM)
        assert load_state(p, rec.id).confidence_note == ""
