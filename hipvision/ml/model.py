"""Keypoint networks: a zoo backbone plus a heatmap (soft-argmax) or a regression head.

Outputs are in the network's *input* pixels (pixel-centre convention, see transforms.py);
the caller maps them to full-image pixels with the input's Affine.

Heatmap head: a small top-down pyramid to stride ~4, one heatmap per point and one radius
map per radius. Points are the expectation of the softmax over the heatmap (soft-argmax:
differentiable and sub-pixel); a radius is its map averaged under its head's heatmap
(the radius is read where the head is, like CenterNet's size maps; no gradient flows from
the radius into the heatmap). A KL(target || heatmap) term pulls each heatmap towards a
small Gaussian at the target. Without it the soft-argmax is happy with a heatmap spread
over the whole femoral head (its mean is still near the centre, but imprecise), and the
Jensen-Shannon term of DSNT saturates there; KL does not. A tight heatmap also makes its
spread mean something at prediction time (it is the landmark's confidence).

Regression head (the poster's method): global pooling and an MLP regressing the
coordinates directly, trained with MSE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from hipvision.ml.zoo import Backbone, check_backbone_name

HEADS = ("heatmap", "regression")


@dataclass(frozen=True)
class NetSpec:
    """What a network predicts and how it is built (stored in the checkpoint sidecar)."""

    points: tuple[str, ...]
    radii: tuple[str, ...]
    radius_of: tuple[int, ...]  # index into `points` of the head each radius belongs to
    backbone: str = "resnet18"
    head: str = "heatmap"
    input_size: int = 256
    channels: int = 64
    max_stride: int = 16
    sigma: float = 1.0  # heatmap target spread, in heatmap cells

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(self.points))
        object.__setattr__(self, "radii", tuple(self.radii))
        object.__setattr__(self, "radius_of", tuple(int(i) for i in self.radius_of))
        check_backbone_name(self.backbone)
        if self.head not in HEADS:
            raise ValueError(f"NetSpec.head must be one of {HEADS}, got {self.head!r}")
        if not self.points:
            raise ValueError("NetSpec.points must name at least one point")
        if len(self.radii) != len(self.radius_of):
            raise ValueError(f"NetSpec.radius_of must have one entry per radius, got {self.radius_of!r}")
        if any(not 0 <= i < len(self.points) for i in self.radius_of):
            raise ValueError(f"NetSpec.radius_of indexes points 0..{len(self.points) - 1}, got {self.radius_of!r}")
        if not isinstance(self.input_size, int) or not 32 <= self.input_size <= 2048 or self.input_size % 16:
            raise ValueError(f"NetSpec.input_size must be a multiple of 16 in 32..2048, got {self.input_size!r}")
        if self.max_stride not in (8, 16, 32):
            raise ValueError(f"NetSpec.max_stride must be 8, 16 or 32, got {self.max_stride!r}")
        if not isinstance(self.channels, int) or self.channels < 8:
            raise ValueError(f"NetSpec.channels must be an int >= 8, got {self.channels!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetSpec:
        return cls(**d)


def _conv_bn(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class HeatmapHead(nn.Module):
    def __init__(self, channels: list[int], n_points: int, n_radii: int, width: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels)
        self.smooth = nn.Sequential(_conv_bn(width, width), _conv_bn(width, width))
        self.out = nn.Conv2d(width, n_points + n_radii, 1)
        self.n_points = n_points
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.lateral[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            x = F.interpolate(x, size=feats[i].shape[-2:], mode="bilinear", align_corners=False)
            x = x + self.lateral[i](feats[i])
        o = self.out(self.smooth(x))
        return o[:, : self.n_points], o[:, self.n_points:]


class RegressionHead(nn.Module):
    def __init__(self, channels: list[int], n_points: int, n_radii: int, width: int = 256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels[-1], width), nn.ReLU(inplace=True),
                                 nn.Linear(width, 2 * n_points + n_radii))
        self.n_points = n_points

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.mlp(feats[-1].mean(dim=(2, 3)))


@dataclass
class NetOutput:
    points: torch.Tensor  # (B, K, 2) input pixels
    radii: torch.Tensor  # (B, R) input pixels
    spread: torch.Tensor | None = None  # (B, K) heatmap spread in heatmap cells (heatmap head)
    logits: torch.Tensor | None = None  # (B, K, h, w)
    stride: tuple[float, float] = (1.0, 1.0)  # (x, y) input pixels per heatmap cell
    extras: dict = field(default_factory=dict)


def _grid(h: int, w: int, size: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    sx, sy = size / w, size / h
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) * sx - 0.5
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) * sy - 0.5
    return xs, ys, sx, sy


class KeypointNet(nn.Module):
    def __init__(self, spec: NetSpec, *, pretrained: bool = False):
        super().__init__()
        self.spec = spec
        self.backbone = Backbone(spec.backbone, max_stride=spec.max_stride, pretrained=pretrained)
        k, r = len(spec.points), len(spec.radii)
        if spec.head == "heatmap":
            self.head = HeatmapHead(self.backbone.channels, k, r, spec.channels)
        else:
            self.head = RegressionHead(self.backbone.channels, k, r)

    @property
    def pretrained_loaded(self) -> bool:
        return self.backbone.pretrained_loaded

    def forward(self, x: torch.Tensor) -> NetOutput:
        # Inputs are 0..1 grayscale; centre them so ImageNet-trained stems see zero-mean data.
        feats = self.backbone((x - 0.5) / 0.25)
        size = x.shape[-1]
        k = len(self.spec.points)
        if self.spec.head == "regression":
            raw = self.head(feats).float()
            pts = raw[:, : 2 * k].view(-1, k, 2) * size
            return NetOutput(points=pts, radii=raw[:, 2 * k:] * size)
        logits, rmaps = self.head(feats)
        logits, rmaps = logits.float(), rmaps.float()
        b, _, h, w = logits.shape
        xs, ys, sx, sy = _grid(h, w, size, logits.device, logits.dtype)
        p = torch.softmax(logits.reshape(b, k, h * w), dim=-1).view(b, k, h, w)
        px, py = p.sum(dim=2), p.sum(dim=3)  # marginals over x (B,K,w) and y (B,K,h)
        mx, my = (px * xs).sum(-1), (py * ys).sum(-1)
        var = (px * (xs - mx[..., None]) ** 2).sum(-1) / sx**2 + (py * (ys - my[..., None]) ** 2).sum(-1) / sy**2
        idx = torch.as_tensor(self.spec.radius_of, device=x.device, dtype=torch.long)
        # radius maps are in heatmap cells (well scaled for the conv); x stride turns them into pixels
        radii = (p[:, idx].detach() * rmaps).sum(dim=(2, 3)) * sx if len(idx) else rmaps.new_zeros(b, 0)
        return NetOutput(points=torch.stack([mx, my], dim=-1), radii=radii, spread=var.clamp_min(0).sqrt(),
                         logits=logits, stride=(sx, sy), extras={"probs": p})


def keypoint_loss(out: NetOutput, spec: NetSpec, points: torch.Tensor, radii: torch.Tensor,
                  kl_weight: float = 1.0, radius_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Loss for targets in input pixels: points (B, K, 2), radii (B, R)."""
    size = spec.input_size
    if spec.head == "regression":
        lp = F.mse_loss(out.points / size, points / size)
        lr = F.mse_loss(out.radii / size, radii / size) if radii.numel() else out.points.new_zeros(())
        return lp + lr, {"coord": float(lp.detach()), "radius": float(lr.detach())}
    sx, sy = out.stride
    scale = torch.tensor([sx, sy], device=points.device, dtype=out.points.dtype)
    lp = ((out.points - points).abs() / scale).sum(-1).mean()
    lr = ((out.radii - radii).abs() / sx).mean() if radii.numel() else out.points.new_zeros(())
    kl = _kl_from_gaussian(out.logits, points, size, spec.sigma)
    total = lp + radius_weight * lr + kl_weight * kl
    return total, {"coord": float(lp.detach()), "radius": float(lr.detach()), "kl": float(kl.detach())}


def _kl_from_gaussian(logits: torch.Tensor, points: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Mean KL(q || softmax(logits)) with q a normalised Gaussian of `sigma` cells at each target."""
    b, k, h, w = logits.shape
    xs, ys, sx, sy = _grid(h, w, size, logits.device, logits.dtype)
    gx = torch.exp(-0.5 * ((xs - points[..., 0:1]) / (sigma * sx)) ** 2)  # (B,K,w)
    gy = torch.exp(-0.5 * ((ys - points[..., 1:2]) / (sigma * sy)) ** 2)  # (B,K,h)
    q = gy[..., :, None] * gx[..., None, :]
    mass = q.sum(dim=(2, 3), keepdim=True)
    inside = (mass.view(b, k) > 1e-3).to(logits.dtype)  # a target far outside the input has no heatmap to match
    q = (q / mass.clamp_min(1e-12)).reshape(b, k, -1)
    logp = torch.log_softmax(logits.reshape(b, k, -1), dim=-1)
    kl = (q * (torch.log(q.clamp_min(1e-12)) - logp)).sum(-1) * inside
    return kl.sum() / inside.sum().clamp_min(1.0)


# ---------------------------------------------------------------------------- the two stages

# Stage 1 sees the whole radiograph, in IMAGE order (hip on the image's left / right).
STAGE1_POINTS = ("image_left.head", "image_right.head", "image_left.rim", "image_right.rim")
STAGE1_RADII = ("image_left.radius", "image_right.radius")
STAGE1_RADIUS_OF = (0, 1)
# Stage 2 sees one hip crop, mirrored so every hip looks like the hip on the image's right.
STAGE2_POINTS = ("head", "rim")
STAGE2_RADII = ("radius",)
STAGE2_RADIUS_OF = (0,)


def stage1_spec(**kw) -> NetSpec:
    return NetSpec(points=STAGE1_POINTS, radii=STAGE1_RADII, radius_of=STAGE1_RADIUS_OF, **kw)


def stage2_spec(**kw) -> NetSpec:
    return NetSpec(points=STAGE2_POINTS, radii=STAGE2_RADII, radius_of=STAGE2_RADIUS_OF, **kw)
