"""The quality gate rejects what disagrees with its condition, and the production path uses
the project's real keypoint model."""

import hashlib
import math

import numpy as np
import pytest

from hipvision.core.landmarks import Side, SideLandmarks
from hipvision.core.store import Project
from hipvision.ml.diffusion.conditional import sample_conditional
from hipvision.ml.diffusion.gate import Gate, GateConfig, check_labelled, check_unlabelled
from hipvision.ml.diffusion.generation import GenerateConfig, generate_into_project
from hipvision.ml.diffusion.na_sampling import NADistribution

from .conftest import StandInPrediction


def _key(image) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


class Reader:
    """A stand-in keypoint model that 'reads' exactly what each generated image shows."""

    def __init__(self):
        self.truth = {}

    def __call__(self, image, mapping):
        return StandInPrediction(self.truth[_key(image)], {"left.head": 0.9, "right.rim": 0.8})


def test_the_gate_rejects_a_planted_bad_sample(trained_conditional):
    gen, imgs = trained_conditional
    samples = sample_conditional(gen, imgs, 3, dist=NADistribution.parse("uniform:80:110"), seed=9, steps=2)
    reader = Reader()
    for s in samples:
        reader.truth[_key(s.image)] = s.landmarks
    gate = Gate(reader, GateConfig(max_na_deg=4.0))
    assert all(gate.labelled(s.image, s.mapping, s.landmarks).accepted for s in samples)
    # planted: sample 0 carries its condition with the sides swapped
    bad = gate.labelled(samples[0].image, samples[0].mapping, samples[0].landmarks.swapped())
    assert not bad.accepted and bad.kind == "landmarks"
    # planted: the right rim rotated 15 degrees (NA off by 15) but the points within 0.5 radii
    s = samples[1]
    r = s.landmarks.right
    t = math.radians(15)
    vx, vy = r.rim_x - r.head_x, r.rim_y - r.head_y
    moved = s.landmarks.with_side(Side.RIGHT, SideLandmarks(r.head_x, r.head_y, r.head_r,
                                                            r.head_x + math.cos(t) * vx - math.sin(t) * vy,
                                                            r.head_y + math.sin(t) * vx + math.cos(t) * vy))
    shifted = gate.labelled(s.image, s.mapping, moved)
    assert not shifted.accepted and shifted.score == pytest.approx(15, abs=1e-6)
    assert (gate.accepted, gate.rejected) == (3, 2)
    assert sum(gate.reasons.values()) == 2


def test_thresholds():
    lm = SideLandmarks(100, 100, 20, 110, 80)
    from hipvision.core.landmarks import HipLandmarks

    cond = HipLandmarks(left=lm, right=SideLandmarks(300, 100, 20, 290, 80))
    near = HipLandmarks(left=lm.moved(5, 0), right=cond.right)  # 0.25 radii
    far = HipLandmarks(left=lm.moved(15, 0), right=cond.right)  # 0.75 radii
    assert check_labelled(StandInPrediction(near, {}), cond, GateConfig(max_na_deg=10)).accepted
    d = check_labelled(StandInPrediction(far, {}), cond, GateConfig(max_na_deg=10))
    assert not d.accepted and d.kind == "landmarks" and "0.75 head radii" in d.reason
    low = check_unlabelled(StandInPrediction(cond, {"left.rim": 0.3, "left.head": 0.9}), GateConfig())
    assert not low.accepted and low.score == 0.3 and "left.rim" in low.reason
    assert check_unlabelled(StandInPrediction(cond, {"left.rim": 0.6}), GateConfig()).accepted


def test_generation_counts_rejections_and_stores_only_accepted(phantom_project, trained_conditional):
    gen, _ = trained_conditional
    calls = []

    def liar(image, mapping):  # agrees with the condition except on the second image
        calls.append(1)
        lm = liar.condition
        if len(calls) == 2:
            lm = lm.with_side(Side.LEFT, lm.left.moved(lm.left.head_r, 0))
        return StandInPrediction(lm, {"left.head": 1.0})

    gate = Gate(liar, GateConfig(), model_id="stand-in")
    orig = gate.labelled

    def labelled(image, mapping, condition):
        liar.condition = condition
        return orig(image, mapping, condition)

    gate.labelled = labelled
    report = generate_into_project(GenerateConfig(project=phantom_project, method="conditional", n=3, seed=0, steps=2,
                                                  generator=gen), gate=gate)
    assert len(report.accepted) == 2 and report.rejected == 1 and report.reasons == {"landmarks": 1}
    assert "1 rejected" in report.summary()
    with Project.open(phantom_project, create=False) as p:
        stored = p.images(source="synthetic")
        assert {r.id for r in stored} == set(report.accepted)
        assert all(p.synthetic_info(r.id).gate_score == pytest.approx(0.0, abs=1e-9) for r in stored)


def test_production_gate_uses_the_projects_keypoint_model(phantom_project, trained_conditional, tiny_model):
    gen, _ = trained_conditional
    with Project.open(phantom_project, create=False) as p:
        p.add_model(name="tiny", backbone="test_resnet", file=tiny_model.checkpoint, activate=True)
    cfg = GenerateConfig(project=phantom_project, method="conditional", n=2, steps=2, generator=gen,
                         gate=GateConfig(max_na_deg=8.0, max_point_radii=0.6))
    report = generate_into_project(cfg)
    assert report.gate_model == tiny_model.model_id  # the project's active model judged the images
    assert len(report.accepted) + report.rejected == 2
    with Project.open(phantom_project, create=False) as p:
        for iid in report.accepted:
            assert p.synthetic_info(iid).gate_score <= 8.0
