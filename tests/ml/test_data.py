"""Augmented training examples: image and labels move together; a flip swaps the hips."""

import math
from dataclasses import replace

import numpy as np
import pytest

from hipvision.core.landmarks import SideMapping
from hipvision.ml.data import (
    AugmentConfig,
    CacheSpec,
    KeypointDataset,
    Sample,
    _photometric,
    cache_image,
    samples_from_coco,
    stage1_example,
    stage2_example,
)
from tests.ml.oracle import oracle_image

SPEC = CacheSpec(stage1_size=128, crop_size=64, crop_factor=6.0)
GEOMETRY_ONLY = replace(AugmentConfig(), gamma=0.0, contrast=0.0, brightness=0.0, noise=0.0, blur=0.0)


def _blob_centroid(img, lo, hi, near=None, radius=None):
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    m = (img > lo) & (img <= hi)
    if near is not None:
        m &= np.hypot(xx - near[0], yy - near[1]) < radius
    w = np.where(m, img, 0)
    return (xx * w).sum() / w.sum(), (yy * w).sum() / w.sum()


@pytest.fixture(scope="module")
def cached():
    img, lm = oracle_image(h=900, w=800, r=40.0)
    return cache_image(Sample(image=img, landmarks=lm), SPEC)


@pytest.mark.parametrize("seed", range(4))
def test_stage1_augmentation_moves_labels_with_the_image(cached, seed):
    rng = np.random.default_rng(seed)
    img, pts, rad = stage1_example(cached, 128, rng, GEOMETRY_ONLY)
    assert img.shape == (128, 128) and pts.shape == (4, 2) and rad.shape == (2,)
    for k in (0, 1):  # each labelled head sits on a bright disc
        got = _blob_centroid(img, 0.7, 2.0, near=pts[k], radius=rad[k] * 1.5)
        assert math.dist(got, pts[k]) < 0.35
    assert pts[0, 0] < pts[1, 0]  # image order survives any flip


def test_stage1_flip_swaps_image_left_and_right_labels(cached):
    always = replace(GEOMETRY_ONLY, flip=1.0, rotate_deg=0.0, scale=0.0, shift=0.0)
    never = replace(always, flip=0.0)
    _, p_flip, r_flip = stage1_example(cached, 128, np.random.default_rng(0), always)
    _, p, r = stage1_example(cached, 128, np.random.default_rng(0), never)
    # the hip now on the left is the mirrored right one: its label came from index 1
    assert p_flip[0] == pytest.approx([127 - p[1, 0], p[1, 1]], abs=1e-4)
    assert p_flip[2] == pytest.approx([127 - p[3, 0], p[3, 1]], abs=1e-4)
    assert r_flip[0] == pytest.approx(r[1])


@pytest.mark.parametrize("hip", [0, 1])
def test_stage2_crop_labels_follow_jitter_rotation_and_mirroring(cached, hip):
    for seed in range(3):
        img, pts, rad = stage2_example(cached, hip, 64, 6.0, np.random.default_rng(seed), GEOMETRY_ONLY)
        head = _blob_centroid(img, 0.7, 2.0, near=pts[0], radius=rad[0] * 1.3)
        assert math.dist(head, pts[0]) < 0.3
        rim = _blob_centroid(img, 0.1, 0.6, near=pts[1], radius=0.5 * rad[0])
        assert math.dist(rim, pts[1]) < 0.5
        # mirrored canonical view: the rim is always lateral = to the right of the head... and cranial
        assert pts[1, 1] < pts[0, 1]


def test_canonical_view_puts_both_hips_rims_on_the_same_side(cached):
    p0 = stage2_example(cached, 0, 64, 6.0, np.random.default_rng(0), AugmentConfig.off())[1]
    p1 = stage2_example(cached, 1, 64, 6.0, np.random.default_rng(0), AugmentConfig.off())[1]
    assert np.sign(p0[1, 0] - p0[0, 0]) == np.sign(p1[1, 0] - p1[0, 0])


def test_dataset_items_are_reproducible_from_seed_epoch_index(cached):
    ds = KeypointDataset([cached], stage1_size=128, crop_size=64, crop_factor=6.0, augment=AugmentConfig(), seed=3,
                         length=4)
    a, b = ds[2], ds[2]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    ds.set_epoch(1)
    assert not np.array_equal(ds[2]["s1_img"], a["s1_img"])
    assert a["s2_img"].shape == (2, 1, 64, 64)


def test_mapping_decides_which_patient_hip_is_on_the_image_left():
    img, lm = oracle_image(h=600, w=500, r=25.0)
    s = Sample(image=img, landmarks=lm, mapping=SideMapping(right_on_image_left=True))
    assert s.image_order()[0, 0] == pytest.approx(lm.right.head_x)
    s2 = Sample(image=img, landmarks=lm.swapped(), mapping=SideMapping(right_on_image_left=False))
    assert np.allclose(s2.image_order(), s.image_order())


def test_samples_from_a_phantom_folder_have_a_validation_share(phantom_folder):
    samples = samples_from_coco(phantom_folder)
    assert len(samples) == 6
    assert {s.split for s in samples} == {"train", "val"}
    assert all(s.image.is_file() for s in samples)


@pytest.mark.parametrize("source,split", [("synthetic", "val"), ("synthetic", "test"), ("phantom", "val"),
                                          ("phantom", "test"), ("synthetic", "all")])
def test_a_generated_or_phantom_image_is_refused_outside_the_train_split(source, split):
    img, lm = oracle_image(h=200, w=200, r=10.0)
    with pytest.raises(ValueError, match=rf"sample gen-7: a {source} image can only be in the train split"):
        Sample(image=img, landmarks=lm, name="gen-7", split=split, source=source)
    Sample(image=img, landmarks=lm, name="gen-7", split="train", source=source)  # where it belongs
    Sample(image=img, landmarks=lm, name="real-1", split=split, source="real")


@pytest.mark.parametrize("field,value", [("split", "validation"), ("source", "generated")])
def test_a_sample_with_an_unknown_split_or_source_is_refused(field, value):
    img, lm = oracle_image(h=200, w=200, r=10.0)
    with pytest.raises(ValueError, match=rf"sample s: {field} must be one of .* got '{value}'"):
        Sample(image=img, landmarks=lm, name="s", **{field: value})


def test_generated_samples_are_made_for_the_train_split_only():
    """experiment.py makes its generated samples with data.synthetic_sample."""
    from hipvision.ml import data

    img, lm = oracle_image(h=200, w=200, r=10.0)
    s = data.synthetic_sample(img, lm, SideMapping(), "synthetic-x-1")
    assert (s.split, s.source, s.name) == ("train", "synthetic", "synthetic-x-1")


def _plate(size: int = 96) -> np.ndarray:
    """A filled bright plate on a dark field: how a phantom draws a bone."""
    img = np.full((size, size), 0.2, np.float32)
    img[24:72, 24:72] = 0.8
    return img


def test_film_looks_are_off_by_default_and_change_nothing_then():
    a = replace(GEOMETRY_ONLY)
    assert a.unsharp == 0.0 and a.local_contrast == 0.0
    img = _plate()
    assert np.array_equal(_photometric(img, np.random.default_rng(0), a), img)


def test_unsharp_turns_a_filled_plate_into_an_outline_with_a_darker_interior():
    img = _plate()
    out = _photometric(img, np.random.default_rng(5), replace(GEOMETRY_ONLY, unsharp=1.0))
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    edge, centre = out[26, 48], out[48, 48]  # just inside the plate's border vs its middle
    assert edge > centre + 0.05, (edge, centre)
    again = _photometric(img, np.random.default_rng(5), replace(GEOMETRY_ONLY, unsharp=1.0))
    assert np.array_equal(out, again)  # randomness from the generator alone (resumable runs)


def test_local_contrast_stays_in_range_and_changes_the_image():
    img = np.clip(_plate() + np.linspace(0, 0.15, 96, dtype=np.float32)[None, :], 0, 1)
    out = _photometric(img, np.random.default_rng(2), replace(GEOMETRY_ONLY, local_contrast=1.0))
    assert out.shape == img.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert float(np.abs(out - img).mean()) > 0.01
