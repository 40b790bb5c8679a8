"""Predictor: exact mapping back to full-image pixels, flip TTA, sides, batches, confidence."""

import cv2
import numpy as np
import pytest

from hipvision.core.landmarks import SideMapping
from hipvision.ml.predict import Prediction, Predictor
from tests.ml.conftest import mirror_image
from tests.ml.oracle import landmarks_close, oracle_bundle, oracle_image


def _mirror_truth(lm, width):
    """Landmarks of the horizontally mirrored image: x -> width-1-x, image sides swap."""
    from hipvision.core.landmarks import HipLandmarks, SideLandmarks

    def m(s):
        return SideLandmarks(width - 1 - s.head_x, s.head_y, s.head_r, width - 1 - s.rim_x, s.rim_y)

    # With the same mapping, the hip that moved to the image's left is now called the patient's right.
    return HipLandmarks(left=m(lm.right), right=m(lm.left))


@pytest.mark.parametrize("tta", [True, False])
def test_oracle_prediction_lands_on_the_drawn_landmarks_in_full_image_pixels(tta):
    img, truth = oracle_image()
    pred = Predictor(oracle_bundle(), device="cpu", tta=tta).predict(img)
    # stage 2 sees the hips at ~2.8x shrink; sub-pixel agreement in full pixels
    landmarks_close(pred.landmarks, truth, tol=0.35)
    assert pred.na["left"] == pytest.approx(truth.norberg_angle("left"), abs=0.3)
    assert pred.image_size == img.shape


def test_patient_sides_follow_the_mapping():
    img, truth = oracle_image(mapping=SideMapping(right_on_image_left=False))
    p = Predictor(oracle_bundle(), device="cpu")
    swapped = p.predict(img, SideMapping(right_on_image_left=False))
    landmarks_close(swapped.landmarks, truth, tol=0.35)
    default = p.predict(img)  # the VD convention puts the patient's right on the image's left
    landmarks_close(default.landmarks, truth.swapped(), tol=0.35)


def test_reduced_decode_from_a_file_maps_to_full_resolution(tmp_path):
    img, truth = oracle_image(h=3000, w=2600, r=120.0)
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), np.clip(img * 60, 0, 65535).astype(np.uint16))
    p = Predictor(oracle_bundle(), device="cpu")
    assert p.decode_side() < 3000  # the file is decoded reduced...
    pred = p.predict(path)
    assert pred.image_size == (3000, 2600)
    landmarks_close(pred.landmarks, truth, tol=0.8)  # ...and still lands within < 1 full-res pixel


def _random_bundle():
    """Untrained networks with loud heads: varied, asymmetric outputs (a trained-looking mess)."""
    import torch

    from hipvision.ml.checkpoint import ModelBundle
    from hipvision.ml.model import KeypointNet, stage1_spec, stage2_spec
    from hipvision.ml.pipeline import PipelineOptions

    torch.manual_seed(1)
    nets = [KeypointNet(stage1_spec(backbone="test_resnet", input_size=128, channels=16)),
            KeypointNet(stage2_spec(backbone="test_resnet", input_size=64, channels=16))]
    with torch.no_grad():
        for n in nets:
            k = len(n.spec.points)
            torch.nn.init.normal_(n.head.out.weight[:k], std=1.0)  # peaky, input-dependent heatmaps
            torch.nn.init.normal_(n.head.out.bias[:k], std=1.0)
            n.head.out.weight[k:] = 0.0
            n.head.out.bias[k:] = 2.0  # radius 2 heatmap cells: crops of a sensible size
            n.eval()
    # No zoomed pass: the random stage 1 guesses radii of a pixel, and stage-2 crops of a few
    # pixels magnify interpolation round-off. The zoomed pass has its own equivariance test.
    return ModelBundle(nets[0], nets[1], PipelineOptions(zoom=False), meta={"model_id": "random"})


def test_zoomed_stage1_pass_is_mirror_equivariant():
    from hipvision.ml.pipeline import ArraySource, PipelineOptions, run_stage1, run_zoom
    from hipvision.phantom import PhantomConfig, render_phantom

    img = render_phantom(7, PhantomConfig(size=320)).pixels.astype(np.float32)
    net = _random_bundle().stage1
    out = []
    for im in (img, mirror_image(img)):
        s1, _ = run_stage1(net, [ArraySource(im)], "cpu", True)
        z, _ = run_zoom(net, [ArraySource(im)], s1[:, :, :2], PipelineOptions(), "cpu")
        out.append(z[0])
    w = img.shape[1]
    # image-left of the mirror is the image-right of the original, x mirrored
    np.testing.assert_allclose(out[1][0, 0], w - 1 - out[0][1, 0], atol=0.02)
    np.testing.assert_allclose(out[1][1, 0], w - 1 - out[0][0, 0], atol=0.02)
    np.testing.assert_allclose(out[1][0, 1], out[0][1, 1], atol=0.02)


def test_flip_tta_is_exactly_mirror_equivariant_with_sides_swapped():
    """With TTA the whole pipeline commutes with a mirror, whatever the weights."""
    from hipvision.phantom import PhantomConfig, render_phantom

    case = render_phantom(7, PhantomConfig(size=320))
    p = Predictor(_random_bundle(), device="cpu", tta=True)
    a = p.predict(case.pixels.astype(np.float32))
    b = p.predict(mirror_image(case.pixels.astype(np.float32)))
    landmarks_close(b.landmarks, _mirror_truth(a.landmarks, case.pixels.shape[1]), tol=0.02)
    assert b.na["left"] == pytest.approx(a.na["right"], abs=0.05)
    assert b.confidence["left.rim"] == pytest.approx(a.confidence["right.rim"], abs=0.01)
    # the check has teeth: the two hips are predicted apart, and without TTA the mirror differs
    assert abs(a.landmarks.left.head_x - a.landmarks.right.head_x) > 1
    q = Predictor(_random_bundle(), device="cpu", tta=False)
    c = q.predict(mirror_image(case.pixels.astype(np.float32)))
    with pytest.raises(AssertionError):
        landmarks_close(c.landmarks, _mirror_truth(q.predict(case.pixels.astype(np.float32)).landmarks,
                                                   case.pixels.shape[1]), tol=0.02)


def test_batch_prediction_equals_one_by_one(tiny_model, phantom_cases):
    p = Predictor.load(tiny_model.checkpoint, device="cpu")
    imgs = [c.pixels.astype(np.float32) for c in phantom_cases[:3]]
    batch = p.predict_batch(imgs, batch_size=3)
    for img, b in zip(imgs, batch):
        one = p.predict(img)
        landmarks_close(one.landmarks, b.landmarks, tol=1e-3)


def test_prediction_carries_confidence_per_landmark_and_flags_low_ones(tiny_model, phantom_cases):
    p = Predictor.load(tiny_model.checkpoint, device="cpu", low_confidence_below=1.01)
    pred = p.predict(phantom_cases[0].pixels.astype(np.float32))
    assert isinstance(pred, Prediction)
    assert set(pred.confidence) == {f"{s}.{n}" for s in ("left", "right") for n in ("head", "radius", "rim")}
    assert all(0.0 <= v <= 1.0 for v in pred.confidence.values())
    assert pred.low_confidence == sorted(pred.confidence)  # threshold above 1 flags everything
    assert pred.model_id == "tiny"
    assert set(pred.na) == {"left", "right"} and all(0 < v < 180 for v in pred.na.values())


def test_predict_from_path_and_radiograph_agree(tiny_model, phantom_folder):
    from hipvision.core.radiograph import load_radiograph

    path = sorted(phantom_folder.glob("*.png"))[0]
    p = Predictor.load(tiny_model.checkpoint, device="cpu")
    a = p.predict(path)
    b = p.predict(load_radiograph(path))
    landmarks_close(a.landmarks, b.landmarks, tol=1e-3)
    assert a.image == str(path)


def test_default_model_is_confident_on_a_phantom_and_not_on_noise():
    if not Predictor.default_path().is_file():
        pytest.fail(f"the bundled default model is missing: {Predictor.default_path()}")
    from hipvision.phantom import PhantomConfig, render_phantom

    p = Predictor.default(device="cpu")
    assert p.trained_on == "phantoms" and "synthetic phantoms" in p.description
    case = render_phantom(424242, PhantomConfig(size=1024))
    good = p.predict(case.pixels)
    for side in ("left", "right"):
        assert good.na[side] == pytest.approx(case.landmarks.norberg_angle(side), abs=3.0)
    assert not good.low_confidence and min(good.confidence.values()) > 0.8
    # The bundled model reads the zoomed square with its pelvis-framed stage 1 too; says which won.
    assert p.framed is not None and good.details["zoom_from"] in ("stage1", "framed")
    junk = {
        "noise": np.random.default_rng(0).random((900, 1000)).astype(np.float32),
        "blank": np.zeros((800, 800), np.float32),
        "pelvis upside down": np.ascontiguousarray(case.pixels[::-1]).astype(np.float32),
    }
    for what, img in junk.items():
        bad = p.predict(img)
        assert max(bad.confidence.values()) < min(good.confidence.values()), what
        assert len(bad.low_confidence) >= 4, (what, bad.confidence)


def test_given_heads_replace_stage1_and_stage2_starts_from_them(tiny_model, phantom_cases):
    from hipvision.ml.pipeline import INTER_HEAD_RADII

    """The place-with-clicks path: the clicks (in either order) are stage 2's starting heads,
    whatever stage 1 would have said, and their distance sets the starting radius."""
    case = phantom_cases[0]
    p = Predictor.load(tiny_model.checkpoint, device="cpu")
    clicks = np.array([[200.0, 150.0], [60.0, 140.0]])  # image-right first: the order must not matter
    pred = p.predict(case.pixels.astype(np.float32), heads=clicks)
    start = np.array(pred.details["stage1"])
    np.testing.assert_allclose(start[:, :2], clicks[::-1], atol=1e-9)
    d = float(np.hypot(*(clicks[1] - clicks[0])))
    np.testing.assert_allclose(start[:, 2], d / INTER_HEAD_RADII)
    assert pred.details["heads_given"] == clicks[::-1].tolist()
    with pytest.raises(ValueError, match="two finite"):
        p.predict(case.pixels.astype(np.float32), heads=[[1.0, 2.0]])


def test_radius_prior_scales_the_first_crops_by_the_inter_head_distance(tiny_model, phantom_cases):
    """`radius_prior`: stage 1's radius is replaced by inter-head distance / INTER_HEAD_RADII
    (seen here without stage 2, whose input it scales)."""
    from hipvision.ml.pipeline import INTER_HEAD_RADII, ArraySource, PipelineOptions, run_pipeline

    img = phantom_cases[0].pixels.astype(np.float32)
    net = Predictor.load(tiny_model.checkpoint, device="cpu").stage1
    plain = run_pipeline(net, None, [ArraySource(img)], PipelineOptions(zoom=False))[0]
    prior = run_pipeline(net, None, [ArraySource(img)], PipelineOptions(zoom=False, radius_prior=True))[0]
    d = float(np.hypot(*(plain.hips[1, :2] - plain.hips[0, :2])))
    want = max(d / INTER_HEAD_RADII, 0.004 * max(img.shape))  # the pipeline's floor for a sane radius
    np.testing.assert_allclose(prior.hips[:, 2], want)
    np.testing.assert_allclose(prior.hips[:, :2], plain.hips[:, :2])
    assert not np.allclose(plain.hips[:, 2], want)
