"""The zoomed square read by stage 1 and by the pelvis-framed stage 1: the answer that agrees
better with its own mirror image wins, image by image."""

import numpy as np

from hipvision.ml.pipeline import pick_zoom, self_disagreement


def _hips(x0, x1):
    h = np.zeros((1, 2, 5))
    h[0, 0, :2], h[0, 1, :2] = (x0, 100.0), (x1, 100.0)
    return h


def test_self_disagreement_is_the_worse_head_gap_in_inter_head_distances():
    gap = np.array([[[5.0, 1.0], [20.0, 0.0]]])  # head gaps 5 and 20 px, rims ignored
    assert self_disagreement(_hips(100, 300), gap)[0] == 20.0 / 200.0


def test_the_answer_that_contradicts_itself_less_wins_per_image():
    a_hips = np.concatenate([_hips(100, 300), _hips(100, 300)])
    b_hips = np.concatenate([_hips(110, 310), _hips(120, 320)])
    a_gap = np.array([[[30.0, 0], [30.0, 0]], [[2.0, 0], [2.0, 0]]])
    b_gap = np.array([[[4.0, 0], [4.0, 0]], [[40.0, 0], [40.0, 0]]])
    hips, gap, b_won = pick_zoom((a_hips, a_gap), (b_hips, b_gap))
    assert b_won.tolist() == [True, False]
    assert hips[0, 0, 0] == 110 and hips[1, 0, 0] == 100  # image 0 from b, image 1 from a
    assert gap[0, 0, 0] == 4.0 and gap[1, 0, 0] == 2.0


def test_the_pipeline_takes_the_framed_nets_answer_when_it_agrees_with_its_flip(tiny_model, phantom_cases):
    import torch

    from hipvision.ml.checkpoint import load_checkpoint
    from hipvision.ml.model import NetOutput
    from hipvision.ml.pipeline import ArraySource, PipelineOptions, run_pipeline

    bundle = load_checkpoint(tiny_model.checkpoint)

    class MirrorExact(torch.nn.Module):
        """Answers heads and rims placed symmetrically about the input's centre: its flipped
        twin says exactly the same, so its self-disagreement is 0."""

        def __init__(self, spec):
            super().__init__()
            self.spec = spec

        def forward(self, x):
            s = self.spec.input_size - 1
            pts = torch.tensor([[0.3 * s, 0.5 * s], [0.7 * s, 0.5 * s], [0.3 * s, 0.4 * s], [0.7 * s, 0.4 * s]])
            return NetOutput(points=pts.expand(x.shape[0], 4, 2), radii=torch.full((x.shape[0], 2), 0.05 * s))

    case = phantom_cases[0]
    options = PipelineOptions(zoom=True, tta=True)
    plain = run_pipeline(bundle.stage1, bundle.stage2, [ArraySource(case.pixels)], options)[0]
    with_framed = run_pipeline(bundle.stage1, bundle.stage2, [ArraySource(case.pixels)], options,
                               framed=MirrorExact(bundle.stage1.spec))[0]
    assert plain.info == {"zoom_from": "stage1"}
    assert with_framed.info == {"zoom_from": "framed"}
    np.testing.assert_allclose(with_framed.flip_gap[:, 0], 0.0, atol=1e-6)
    assert not np.allclose(with_framed.stage1, plain.stage1)
