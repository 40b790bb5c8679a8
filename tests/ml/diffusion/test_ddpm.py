"""Unconditional DDPM (the poster's method) end to end on a project."""

import numpy as np

from hipvision.core.store import Project
from hipvision.ml.diffusion.ddpm import sample_ddpm
from hipvision.ml.diffusion.gate import Gate, GateConfig
from hipvision.ml.diffusion.generation import (
    GenerateConfig,
    GeneratorTrainConfig,
    generate_into_project,
    train_generator,
)

from .conftest import TINY_TRAIN, StandInPrediction


def test_ddpm_trains_samples_and_queues_prelabelled_images_for_review(phantom_project):
    previews = []
    result = train_generator(GeneratorTrainConfig(project=phantom_project, method="ddpm", train=TINY_TRAIN),
                             preview=lambda im, cap: previews.append(im.shape))
    assert result.steps == TINY_TRAIN.max_steps and previews == [(32, 32)]
    gen = result.path
    assert gen.name == "ddpm" and (gen / "generator.json").is_file()

    # the poster's sampler: 1000 DDPM steps
    img = sample_ddpm(gen, seeds=[3], scheduler="ddpm", steps=1000)
    assert img.shape == (1, 32, 32) and img.dtype == np.uint8 and img.std() > 0

    with Project.open(phantom_project, create=False) as p:
        lm = p.labelled(("train",), source="real")[0][1]
    confidences = iter([0.2, 0.9, 0.8])  # the first image is not recognisable as a pelvis

    def model(image, mapping):
        return StandInPrediction(lm, {"left.head": next(confidences), "right.rim": 0.95})

    report = generate_into_project(GenerateConfig(project=phantom_project, method="ddpm", n=3, steps=3, seed=10),
                                   gate=Gate(model, GateConfig(min_confidence=0.5), model_id="m7"))
    assert len(report.accepted) == 2 and report.rejected == 1 and report.reasons == {"confidence": 1}
    with Project.open(phantom_project, create=False) as p:
        for iid in report.accepted:
            rec, ann, info = p.image(iid), p.current_annotation(iid), p.synthetic_info(iid)
            assert (rec.split, rec.source, rec.status) == ("train", "synthetic", "predicted")  # the review queue
            assert ann.author == "model:m7" and ann.landmarks == lm and ann.confidence["right.rim"] == 0.95
            assert info.method == "ddpm" and info.condition is None and info.seed in (11, 12)
            assert info.gate_score in (0.9, 0.8)
        # pre-labels are not training labels until a person verifies them
        assert not p.labelled(("train",), source="synthetic")
