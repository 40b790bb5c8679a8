"""A known-answer stand-in for the networks, to test the pipeline's geometry exactly.

`oracle_image` draws two bright head discs and, outside each, a dimmer round rim marker.
`OracleNet` "predicts" by measuring the input it is given — head = centroid of the bright
disc, radius from its area, rim = centroid of the dim marker — so whatever the letterbox,
decode scale, crop, mirroring and flip TTA do, the pipeline's output must land on the
drawn truth. A wrong sign, a half-pixel slip or a swapped side shows up as a number.
"""

import math

import numpy as np
import torch

from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.ml.model import NetOutput, stage1_spec, stage2_spec

HEAD, RIM = 1000.0, 400.0


def oracle_image(h=1500, w=1300, r=60.0, mapping=SideMapping()):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w), np.float64)
    hips = []
    for hx, hy, ang in ((0.32 * w + 0.37, 0.55 * h - 0.21, -120.0), (0.69 * w - 0.43, 0.57 * h + 0.29, -60.0)):
        t = math.radians(ang)
        rx, ry = hx + 1.6 * r * math.cos(t), hy + 1.6 * r * math.sin(t)
        # supersampled discs: sub-pixel exact centroids
        for cx, cy, rad, val in ((hx, hy, r, HEAD), (rx, ry, 0.3 * r, RIM)):
            d = np.hypot(xx - cx, yy - cy)
            img += val * np.clip(rad + 0.5 - d, 0.0, 1.0)
        hips.append(SideLandmarks(hx, hy, r, rx, ry))
    return img.astype(np.float32), mapping.from_image_order(hips[0], hips[1])


def _measure(x: np.ndarray, want_two: bool):
    """Head centres/radii/rims (input pixels) of one normalised input."""
    heads = x > 0.7
    yy, xx = np.mgrid[0:x.shape[0], 0:x.shape[1]]
    out = []
    halves = [xx < x.shape[1] / 2, xx >= x.shape[1] / 2] if want_two else [np.ones_like(heads)]
    for half in halves:
        m = heads & half
        wts = np.where(m, x, 0.0)
        hx, hy = (xx * wts).sum() / wts.sum(), (yy * wts).sum() / wts.sum()
        r = math.sqrt(m.sum() / math.pi)
        far = (np.hypot(xx - hx, yy - hy) > r + 2) & half & (x > 0.05) & (x < 0.7)
        wr = np.where(far, x, 0.0)
        rx, ry = (xx * wr).sum() / wr.sum(), (yy * wr).sum() / wr.sum()
        out.append((hx, hy, r, rx, ry))
    return out


class OracleNet(torch.nn.Module):
    def __init__(self, stage: int, size: int):
        super().__init__()
        self.spec = stage1_spec(backbone="test_resnet", input_size=size) if stage == 1 else \
            stage2_spec(backbone="test_resnet", input_size=size)
        self.stage = stage

    def forward(self, x):
        pts, rad = [], []
        for img in x[:, 0].numpy():
            m = _measure(img.astype(np.float64), self.stage == 1)
            if self.stage == 1:
                (lx, ly, lr, lrx, lry), (rx, ry, rr, rrx, rry) = m
                pts.append([[lx, ly], [rx, ry], [lrx, lry], [rrx, rry]])
                rad.append([lr, rr])
            else:
                hx, hy, r, mx, my = m[0]
                pts.append([[hx, hy], [mx, my]])
                rad.append([r])
        n, k = len(pts), len(pts[0])
        return NetOutput(points=torch.tensor(pts, dtype=torch.float64), radii=torch.tensor(rad, dtype=torch.float64),
                         spread=torch.full((n, k), 1.4, dtype=torch.float64))


def oracle_bundle(stage1_size=256, crop_size=128, crop_factor=6.0, refine_iters=2):
    from hipvision.ml.checkpoint import ModelBundle
    from hipvision.ml.pipeline import PipelineOptions

    return ModelBundle(stage1=OracleNet(1, stage1_size), stage2=OracleNet(2, crop_size),
                       options=PipelineOptions(crop_factor=crop_factor, refine_iters=refine_iters),
                       meta={"model_id": "oracle", "trained_on": "test"})


def landmarks_close(a: HipLandmarks, b: HipLandmarks, tol: float) -> float:
    """Largest coordinate difference between two landmark sets (asserts below tol)."""
    worst = 0.0
    for s in ("left", "right"):
        pa, pb = a.side(s), b.side(s)
        for f in ("head_x", "head_y", "rim_x", "rim_y"):
            worst = max(worst, abs(getattr(pa, f) - getattr(pb, f)))
    assert worst < tol, f"landmarks differ by {worst:.4f} px (tolerance {tol})\n{a}\n{b}"
    return worst
