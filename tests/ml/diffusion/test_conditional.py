"""Labelled conditional generation: every image carries exactly the labels of its condition."""

import cv2
import numpy as np
import pytest

from hipvision.core.landmarks import Side
from hipvision.core.store import Project
from hipvision.core.windowing import apply_window, auto_window
from hipvision.ml.diffusion.conditional import ConditionalConfig, sample_conditional, train_conditional
from hipvision.ml.diffusion.gate import GateConfig
from hipvision.ml.diffusion.generation import GenerateConfig, generate_into_project
from hipvision.ml.diffusion.na_sampling import NADistribution

from .conftest import TINY_TRAIN


def test_samples_carry_their_condition_and_change_only_the_hips(trained_conditional):
    gen, imgs = trained_conditional
    shown = []
    out = sample_conditional(gen, imgs, 3, dist=NADistribution.parse("uniform:78:82"), seed=40, steps=3,
                             on_sample=lambda s: shown.append(s.seed))
    assert [s.seed for s in out] == shown == [40, 41, 42]
    by_name = {im.name: im for im in imgs}
    for s in out:
        src = by_name[s.source]
        assert s.image.shape == src.pixels.shape and s.image.dtype == np.uint8
        for side in Side:
            assert 78 - 1e-9 <= s.landmarks.norberg_angle(side) <= 82 + 1e-9
            assert s.target_na[side.value] == pytest.approx(s.landmarks.norberg_angle(side))
            # heads and radii are the source's; only the rims moved
            a, b = s.landmarks.side(side), src.landmarks.side(side)
            assert (a.head_x, a.head_y, a.head_r) == (b.head_x, b.head_y, b.head_r)
        # outside the two pasted crops the radiograph is the source, pixel for pixel
        ref = apply_window(src.pixels, *auto_window(src.pixels))
        yy, xx = np.mgrid[0:ref.shape[0], 0:ref.shape[1]]
        outside = np.ones(ref.shape, bool)
        for side in Side:
            h = s.landmarks.side(side)
            half = 0.5 * ConditionalConfig().crop_radii * h.head_r + 2
            outside &= (np.abs(xx - h.head_x) > half) | (np.abs(yy - h.head_y) > half)
        assert np.array_equal(s.image[outside], ref[outside])
        assert np.abs(s.image[~outside].astype(int) - ref[~outside]).mean() > 1  # the hips were regenerated


def test_generated_images_enter_the_project_with_exact_labels(phantom_project, trained_conditional):
    gen, _ = trained_conditional
    previews = []
    cfg = GenerateConfig(project=phantom_project, method="conditional", n=3, seed=5, steps=2, generator=gen,
                         na_dist="normal:90:6", gate=GateConfig(enabled=False))
    report = generate_into_project(cfg, preview=lambda im, cap: previews.append((im.shape, cap)))
    assert len(report.accepted) == 3 and report.rejected == 0 and len(previews) == 3
    with Project.open(phantom_project, create=False) as p:
        for iid in report.accepted:
            rec, info, ann = p.image(iid), p.synthetic_info(iid), p.current_annotation(iid)
            assert (rec.split, rec.source, rec.status) == ("train", "synthetic", "verified")
            assert ann.author == "generator:conditional"
            assert info.method == "conditional" and info.condition == ann.landmarks  # provenance == annotation
            assert "conditional-crop" in info.generator and info.seed in (5, 6, 7)
            assert rec.abs_path.is_file() and rec.abs_path.parent == p.synthetic_dir / "conditional"
            stored = cv2.imread(str(rec.abs_path), cv2.IMREAD_UNCHANGED)
            assert (rec.width, rec.height) == (stored.shape[1], stored.shape[0])  # the record matches the file
        # they are training data, never validation or test
        assert not p.images(split=("val", "test"), source="synthetic")
        assert {r.id for r, _ in p.labelled(("train",), source="synthetic")} == set(report.accepted)


def test_whole_framing_trains_and_labels_in_its_own_pixels(phantom_project_master, tmp_path):
    from hipvision.ml.diffusion.sources import real_training_images

    with Project.open(phantom_project_master, create=False) as p:
        imgs = real_training_images(p, labelled=True, max_side=256)
    cfg = ConditionalConfig(framing="whole", variants=2)
    train_conditional(imgs, cfg, TINY_TRAIN, tmp_path / "whole")
    out = sample_conditional(tmp_path / "whole", imgs, 2, dist=NADistribution.parse("uniform:100:110"), seed=1, steps=2)
    for s in out:
        assert s.image.shape == (32, 32)
        for side in Side:
            h = s.landmarks.side(side)
            assert 0 <= h.head_x < 32 and 0 <= h.head_y < 32
            # the letterbox rounds each axis separately (32 px: up to ~2 % anisotropy), so the NA of
            # the labels in output pixels may differ from the drawn target by a fraction of a degree
            assert 99 <= s.landmarks.norberg_angle(side) <= 111
