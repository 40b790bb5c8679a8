"""The two-stage inference shared by the Predictor and by validation during training.

Stage 1 sees the whole radiograph letterboxed and finds both hips (in image order). Stage 2
crops each hip around stage 1's head estimate — a square of `crop_factor` head radii, from the
best-resolution pixels available — mirrors the image-left hip so one network serves both
sides, and refines head centre, radius and rim; the refined hip is cropped again around its
new centre `refine_iters` times (the crop is then centred as in training).

Zoom: on a wide view (whole body, abdomen) the pelvis can be a tenth of the image, a few
pixels per head at stage 1's input. So stage 1 runs a second time on a square around the
hips it found (`zoom_side` inter-head distances across), which is the pelvis-framed view it
knows best; the zoomed estimate replaces the first. In the place-with-clicks assist
(`heads=`) two clicked head centres replace stage 1: they place stage 2's crops, and their
distance scales them (`INTER_HEAD_RADII`).

Flip test-time augmentation runs stage 1 on the mirrored image too and averages it (sides
swapped back). Stage 2 needs no flip: mirroring an image-left hip *is* its canonical view,
so the pipeline is exactly mirror-equivariant with TTA on, whatever the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from hipvision.ml.model import KeypointNet
from hipvision.ml.transforms import Affine, crop_affine, crop_input, hflip, letterbox_input, masked_input

HIPS = ("image_left", "image_right")


class ArraySource:
    """Pixels of one radiograph (possibly decoded reduced) and the map full-image -> pixels."""

    def __init__(self, pixels: np.ndarray, full_size: tuple[int, int] | None = None):
        self.pixels = np.asarray(pixels, dtype=np.float32)
        h, w = self.pixels.shape
        self.full_size = tuple(full_size) if full_size is not None else (h, w)
        fh, fw = self.full_size
        self.to_pixels = Affine.scale_about_pixels(w / fw, h / fh)

    @property
    def resolution(self) -> float:
        """Pixels per full-image pixel."""
        return self.to_pixels.scale

    def stage1_input(self, size: int) -> tuple[np.ndarray, Affine]:
        return letterbox_input(self.pixels, self.to_pixels, size)

    def crop(self, full_to_crop: Affine, size: int) -> np.ndarray:
        return crop_input(self.pixels, self.to_pixels, full_to_crop, size)

    def zoom(self, full_to_crop: Affine, size: int) -> np.ndarray:
        return masked_input(self.pixels, self.to_pixels.inverse().then(full_to_crop), size)


class PatchSource:
    """A cached overview, a pelvis patch and one high-resolution patch per hip (validation
    during training)."""

    def __init__(self, full_size, overview: np.ndarray, overview_affine: Affine, patches, pelvis=None):
        self.full_size = tuple(full_size)
        self.overview = overview
        self.overview_affine = overview_affine
        self.patches = patches  # [(pixels, Affine full->patch)] per image side
        self.pelvis = pelvis  # (pixels, Affine full->patch) around both hips, or None

    def zoom(self, full_to_crop: Affine, size: int) -> np.ndarray:
        pixels, affine = self.pelvis if self.pelvis is not None else (self.overview, self.overview_affine)
        return masked_input(np.asarray(pixels, dtype=np.float32), affine.inverse().then(full_to_crop), size)

    def stage1_input(self, size: int) -> tuple[np.ndarray, Affine]:
        return letterbox_input(np.asarray(self.overview, dtype=np.float32), self.overview_affine, size)

    def crop(self, full_to_crop: Affine, size: int) -> np.ndarray:
        # the patch whose centre is nearest the crop centre
        centre = full_to_crop.inverse().apply([(size - 1) / 2, (size - 1) / 2])
        best = min(self.patches, key=lambda pa: float(np.hypot(*(pa[1].inverse().apply(
            [(pa[0].shape[1] - 1) / 2, (pa[0].shape[0] - 1) / 2]) - centre))))
        return crop_input(np.asarray(best[0], dtype=np.float32), best[1], full_to_crop, size)


@dataclass(frozen=True)
class PipelineOptions:
    crop_factor: float = 6.0  # crop side in head radii (the rim sits up to ~2.3 radii away)
    refine_iters: int = 2
    tta: bool = True
    crop_views: int = 1  # final-iteration crops per hip, shifted by a tenth of a radius, averaged
    zoom: bool = True  # re-run stage 1 on a square around the hips it found
    zoom_side: float = 2.8  # that square's side, in inter-head distances (a pelvis-framed view)
    # Scale stage 2's first crops by the heads' distance (INTER_HEAD_RADII) instead of stage 1's
    # radius, which is the least reliable thing stage 1 says on a real radiograph.
    radius_prior: bool = False

    def __post_init__(self) -> None:
        if not 1.5 <= self.zoom_side <= 8.0:
            raise ValueError(f"zoom_side must be in 1.5..8, got {self.zoom_side!r}")
        if not 2.0 <= self.crop_factor <= 16.0:
            raise ValueError(f"crop_factor must be in 2..16, got {self.crop_factor!r}")
        if not isinstance(self.refine_iters, int) or not 1 <= self.refine_iters <= 5:
            raise ValueError(f"refine_iters must be an int in 1..5, got {self.refine_iters!r}")
        if not isinstance(self.crop_views, int) or not 1 <= self.crop_views <= 9:
            raise ValueError(f"crop_views must be an int in 1..9, got {self.crop_views!r}")


def _view_offsets(n: int) -> np.ndarray:
    """(n, 2) crop-centre offsets in head radii, in the canonical (image-right hip) frame."""
    out = [(0.0, 0.0)]
    for v in range(1, n):
        t = 2 * math.pi * (v - 1) / (n - 1)
        out.append((0.1 * math.cos(t), 0.1 * math.sin(t)))
    return np.array(out)


@dataclass
class RawHips:
    """Image-order result for one radiograph (full-image pixels)."""

    hips: np.ndarray  # (2, 5): per image side [head_x, head_y, head_r, rim_x, rim_y]
    spread: np.ndarray  # (2, 2): stage-2 heatmap spread (cells) of head, rim; NaN for regression
    shift: np.ndarray  # (2, 2): last refinement's move of head, rim, in head radii
    flip_gap: np.ndarray  # (2, 2): stage-1 original vs mirrored disagreement of head, rim, in head radii
    stage1: np.ndarray  # (2, 5): stage-1 estimate
    info: dict = field(default_factory=dict)


def _forward(net: KeypointNet, batch: list[np.ndarray], device) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x = torch.from_numpy(np.stack(batch)[:, None]).to(device)
    with torch.inference_mode():
        out = net(x)
    spread = out.spread.cpu().numpy().astype(np.float64) if out.spread is not None else None
    return out.points.cpu().numpy().astype(np.float64), out.radii.cpu().numpy().astype(np.float64), spread


_SWAP_PTS = [1, 0, 3, 2]  # stage-1 point order under a horizontal flip
_SWAP_RAD = [1, 0]


def _stage1(net: KeypointNet, inputs: list[np.ndarray], maps: list[Affine], device, tta: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, 5) image-order hips (full pixels) and (N, 2, 2) flip disagreement in pixels."""
    size = net.spec.input_size
    batch = []
    for arr in inputs:
        batch.append(arr)
        if tta:
            batch.append(np.ascontiguousarray(arr[:, ::-1]))
    pts, rad, _ = _forward(net, batch, device)
    n = len(inputs)
    hips = np.zeros((n, 2, 5))
    gap = np.zeros((n, 2, 2))
    step = 2 if tta else 1
    for i, a in enumerate(maps):
        inv = a.inverse()
        p = inv.apply(pts[i * step])
        r = rad[i * step] / a.scale
        if tta:
            pf = a.then(hflip(size)).inverse().apply(pts[i * step + 1][_SWAP_PTS])
            rf = rad[i * step + 1][_SWAP_RAD] / a.scale
            gap[i] = np.hypot(*(p - pf).T).reshape(2, 2).T  # rows: hips; cols: head, rim
            p, r = 0.5 * (p + pf), 0.5 * (r + rf)
        for h in range(2):
            hips[i, h] = [p[h, 0], p[h, 1], r[h], p[2 + h, 0], p[2 + h, 1]]
    return hips, gap


def run_stage1(net: KeypointNet, sources: list, device, tta: bool) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 on the whole radiograph, letterboxed."""
    size = net.spec.input_size
    inputs, maps = zip(*(src.stage1_input(size) for src in sources))
    return _stage1(net, list(inputs), list(maps), device, tta)


# The zoomed square is never smaller than this share of the image's longest side: two heads
# guessed on one spot (an untrained or lost model) must not zoom into a few pixels.
MIN_ZOOM_SHARE = 0.12


def zoom_affine(heads: np.ndarray, zoom_side: float, size: int, full_size) -> Affine:
    """Full pixels -> stage-1 input of the square around two head centres (2, 2)."""
    mid = heads.mean(axis=0)
    d = float(np.hypot(*(heads[1] - heads[0])))
    side = max(zoom_side * d, MIN_ZOOM_SHARE * max(full_size))
    return crop_affine(float(mid[0]), float(mid[1]), side, size)


def run_zoom(net: KeypointNet, sources: list, heads: np.ndarray, options: PipelineOptions, device
             ) -> tuple[np.ndarray, np.ndarray]:
    """Stage 1 on the square around each source's two heads ((N, 2, 2) image-order centres)."""
    size = net.spec.input_size
    maps = [zoom_affine(h, options.zoom_side, size, src.full_size) for h, src in zip(heads, sources)]
    inputs = [src.zoom(m, size) for src, m in zip(sources, maps)]
    return _stage1(net, inputs, maps, device, options.tta)


def self_disagreement(hips: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """(N,) how far a stage-1 answer and its mirrored twin put the heads apart, in inter-head
    distances (the worse head): an answer that contradicts itself under a flip is a guess."""
    d = np.maximum(np.hypot(*(hips[:, 1, :2] - hips[:, 0, :2]).T), 1.0)
    return gap[:, :, 0].max(axis=1) / d


def pick_zoom(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image, the zoomed answer ((hips, gap) of stage 1 or of the framed net) that agrees
    better with its own mirror image; returns hips, gap and (N,) True where `b` won. No labels:
    the flip test is the model's own evidence, so the rule is the same on any radiograph."""
    b_wins = self_disagreement(*b) < self_disagreement(*a)
    hips = np.where(b_wins[:, None, None], b[0], a[0])
    gap = np.where(b_wins[:, None, None], b[1], a[1])
    return hips, gap, b_wins


def _sane_radius(r: float, full_size) -> float:
    m = max(full_size)
    return float(min(max(r, 0.004 * m), 0.2 * m)) if math.isfinite(r) else 0.05 * m


# Inter-head distance in femoral-head radii: ~8.2-9.4 in a normal pelvis, a little more with
# subluxation, whatever the dog's size; so two clicks also say how large the heads are.
INTER_HEAD_RADII = 9.2


def clicked_hips(heads: np.ndarray) -> np.ndarray:
    """(N, 2, 5) starting hips from clicked head centres ((N, 2, 2), image order): the radius
    from the anatomical ratio to the inter-head distance, the rim on the head until stage 2
    finds it. Stage 2's crops are placed and scaled by these alone."""
    heads = np.asarray(heads, dtype=np.float64)
    out = np.zeros(heads.shape[:2] + (5,))
    d = np.hypot(*(heads[:, 1] - heads[:, 0]).T)
    out[:, :, :2] = heads
    out[:, :, 2] = (d / INTER_HEAD_RADII)[:, None]
    out[:, :, 3:5] = heads
    return out


def run_pipeline(stage1: KeypointNet, stage2: KeypointNet | None, sources: list, options: PipelineOptions,
                 device="cpu", heads: np.ndarray | None = None, framed: KeypointNet | None = None
                 ) -> list[RawHips]:
    """Both stages on each source. `heads` ((N, 2, 2) image-order head centres, full pixels)
    replaces the first stage-1 pass: the place-with-clicks assist. `framed`, a stage 1 trained
    on pelvis-framed views only, also reads the zoomed square; per image the answer that
    agrees better with its own flip wins (`pick_zoom`)."""
    n = len(sources)
    zoom_from = [""] * n
    if heads is not None:
        s1, gap = clicked_hips(np.asarray(heads, dtype=np.float64).reshape(n, 2, 2)), np.zeros((n, 2, 2))
    else:
        s1, gap = run_stage1(stage1, sources, device, options.tta)
        if options.zoom:
            first = s1[:, :, :2]
            s1, gap = run_zoom(stage1, sources, first, options, device)
            zoom_from = ["stage1"] * n
            if framed is not None:
                s1, gap, won = pick_zoom((s1, gap), run_zoom(framed, sources, first, options, device))
                zoom_from = ["framed" if w else "stage1" for w in won]
    hips = s1.copy()
    if options.radius_prior and heads is None:
        hips[:, :, 2] = clicked_hips(s1[:, :, :2])[:, :, 2]
    spread = np.full((n, 2, 2), np.nan)
    shift = np.zeros((n, 2, 2))
    for i in range(n):
        for h in range(2):
            hips[i, h, 2] = _sane_radius(hips[i, h, 2], sources[i].full_size)
    if stage2 is not None:
        size = stage2.spec.input_size
        for it in range(options.refine_iters):
            # Several slightly shifted views on the last pass average out the network's
            # dependence on where exactly the crop falls. Offsets are mirrored for the
            # image-left hip, so the pipeline stays exactly mirror-equivariant.
            offsets = _view_offsets(options.crop_views if it == options.refine_iters - 1 else 1)
            crops, maps, owner = [], [], []
            for i, src in enumerate(sources):
                for h in range(2):
                    hx, hy, r = hips[i, h, :3]
                    for dx, dy in offsets:
                        cx = hx + (-dx if h == 0 else dx) * r
                        m = crop_affine(cx, hy + dy * r, options.crop_factor * r, size, mirror=(h == 0))
                        crops.append(src.crop(m, size))
                        maps.append(m)
                        owner.append((i, h))
            pts, rad, spr = _forward(stage2, crops, device)
            acc = np.zeros((n, 2, 5))
            acc_spread = np.zeros((n, 2, 2))
            for j, m in enumerate(maps):
                i, h = owner[j]
                p = m.inverse().apply(pts[j])
                radius = _sane_radius(rad[j, 0] / m.scale, sources[i].full_size)
                acc[i, h] += [p[0, 0], p[0, 1], radius, p[1, 0], p[1, 1]]
                if spr is not None:
                    acc_spread[i, h] += spr[j]
            new = acc / len(offsets)
            if spr is not None:
                spread = acc_spread / len(offsets)
            r = np.maximum(hips[:, :, 2], 1e-6)
            shift[:, :, 0] = np.hypot(new[:, :, 0] - hips[:, :, 0], new[:, :, 1] - hips[:, :, 1]) / r
            shift[:, :, 1] = np.hypot(new[:, :, 3] - hips[:, :, 3], new[:, :, 4] - hips[:, :, 4]) / r
            hips = new
    r = np.maximum(hips[:, :, 2:3], 1e-6)
    return [RawHips(hips=hips[i], spread=spread[i], shift=shift[i], flip_gap=gap[i] / r[i], stage1=s1[i],
                    info={"zoom_from": zoom_from[i]} if zoom_from[i] else {})
            for i in range(n)]
