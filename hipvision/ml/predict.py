"""`Predictor`: load a model once, predict landmarks + Norberg angles + confidence per radiograph.

A radiograph is decoded at reduced size when that loses nothing: stage 1 needs only a few
hundred pixels, stage 2 needs `crop_size` pixels across `crop_factor` head radii. When the
reduced decode is too coarse for the hips stage 1 found, the file is decoded again at the
resolution the crops need. Coordinates are always full-resolution image pixels.

Confidence per landmark (0..1) combines three signals, each of which a trained model keeps
small on a real hip and cannot keep small on something that is not one: the stage-2 heatmap
spread, how far the last refinement moved the landmark, and how much stage 1 disagreed with
itself on the mirrored image (flip TTA). Landmarks under `low_confidence_below` are flagged.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hipvision.core.geometry import head_clicks
from hipvision.core.jobs import check_cancel
from hipvision.core.landmarks import HipLandmarks, SideLandmarks, SideMapping
from hipvision.ml.checkpoint import CheckpointError, ModelBundle, load_checkpoint
from hipvision.ml.device import pick_device, set_cpu_threads
from hipvision.ml.pipeline import ArraySource, PipelineOptions, RawHips, run_pipeline
from hipvision.ml.sidecar import DEFAULT_MODEL_FILE as DEFAULT_MODEL_NAME

LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Prediction:
    landmarks: HipLandmarks  # by patient side, full-resolution pixels
    confidence: dict[str, float]  # "left.head", "left.radius", "left.rim", "right.head", ...
    na: dict[str, float]  # {"left": deg, "right": deg}
    low_confidence: list[str]  # confidence keys under the threshold
    model_id: str
    image: str = ""
    image_size: tuple[int, int] = (0, 0)  # full (H, W)
    details: dict = field(default_factory=dict)  # raw signals behind the confidence, stage-1 estimate

    def assessment(self):
        """What is doubtful about it (annotation.plausibility): the rule the window applies."""
        from hipvision.annotation.plausibility import assess

        h, w = self.image_size
        return assess(self.landmarks, (w, h) if w and h else None, self.confidence)


def _confidence(raw: RawHips, has_heatmaps: bool) -> np.ndarray:
    """(2 hips, 2 points) in 0..1 from the spread (cells), refinement shift and flip gap (head radii)."""
    # Knees and scales from the default model on 20 unseen phantoms (worst of 40 hips: spread
    # 2.2 cells, shift 0.04 and flip gap 0.36 head radii) against non-radiographs (noise,
    # blank, gradient, smooth blobs, an upside-down or rotated pelvis: spread >= 3 cells,
    # shift >= 0.07 or flip gap >= 0.5 on every landmark). A clean hip scores ~1; each signal
    # decays past its knee, so a doubtful landmark on a real radiograph lands in between.
    conf = np.ones((2, 2))
    if has_heatmaps:
        # a trained heatmap is a ~1-cell Gaussian (spread ~1.5 cells); a diffuse one means no answer
        conf *= np.exp(-np.clip(raw.spread - 2.5, 0, None) / 2.0)
    conf *= np.exp(-np.clip(raw.shift - 0.06, 0, None) / 0.15)
    conf *= np.exp(-np.clip(raw.flip_gap - 0.4, 0, None) / 0.6)
    return np.nan_to_num(conf, nan=0.0)


class Predictor:
    """Thread-compatible: one Predictor may serve one thread at a time (the engine's)."""

    def __init__(self, bundle: ModelBundle, *, device=None, path: Path | None = None, tta: bool = True,
                 low_confidence_below: float = LOW_CONFIDENCE, threads: int | None = None,
                 refine_iters: int | None = None, crop_views: int | None = None, zoom: bool | None = None,
                 radius_prior: bool | None = None):
        self.bundle = bundle
        self.device = pick_device(device or "auto") if not isinstance(device, torch.device) else device
        if self.device.type == "cpu" and threads is not None:
            set_cpu_threads(threads)
        self.stage1 = bundle.stage1.to(self.device).eval()
        self.stage2 = bundle.stage2.to(self.device).eval() if bundle.stage2 is not None else None
        self.framed = bundle.framed.to(self.device).eval() if bundle.framed is not None else None
        o = bundle.options  # the model's own settings unless overridden
        self.options = PipelineOptions(o.crop_factor, refine_iters or o.refine_iters, tta=tta,
                                       crop_views=crop_views or o.crop_views,
                                       zoom=o.zoom if zoom is None else bool(zoom), zoom_side=o.zoom_side,
                                       radius_prior=o.radius_prior if radius_prior is None else bool(radius_prior))
        self.path = path
        self.low_confidence_below = float(low_confidence_below)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | os.PathLike, **kw) -> Predictor:
        path = Path(path)
        dev = kw.pop("device", None)
        device = pick_device(dev or "auto") if not isinstance(dev, torch.device) else dev
        return cls(load_checkpoint(path, device="cpu"), device=device, path=path, **kw)

    @staticmethod
    def default_path() -> Path:
        from hipvision.core.resources import default_model_dir

        return default_model_dir() / DEFAULT_MODEL_NAME

    @classmethod
    def default(cls, **kw) -> Predictor:
        """The shipped model (trained on synthetic phantoms)."""
        p = cls.default_path()
        if not p.is_file():
            raise CheckpointError(p, "the bundled default model is missing from this installation")
        return cls.load(p, **kw)

    @classmethod
    def for_project(cls, project, **kw) -> Predictor:
        """The project's active model, else the default one."""
        rec = project.active_model() if project is not None else None
        return cls.load(rec.abs_file, **kw) if rec is not None else cls.default(**kw)

    @classmethod
    def resolve(cls, model: str | None, project=None, **kw) -> Predictor:
        """What a user's `--model` means: None (the project's active model, else the default),
        'default', a .safetensors path, or a project model's id or name."""
        if model is None:
            return cls.for_project(project, **kw)
        if model == "default":
            return cls.default(**kw)
        p = Path(model).expanduser()
        if p.suffix == ".safetensors" or p.exists():
            return cls.load(p, **kw)
        if project is not None:
            for rec in project.models():
                if str(rec.id) == model or rec.name == model:
                    return cls.load(rec.abs_file, **kw)
        raise CheckpointError(p, "no such model file" + (" or project model" if project is not None else ""))

    # ------------------------------------------------------------ facts

    @property
    def model_id(self) -> str:
        return self.bundle.model_id

    @property
    def meta(self) -> dict:
        return self.bundle.meta

    @property
    def trained_on(self) -> str:
        return str(self.meta.get("trained_on", "unknown"))

    @property
    def description(self) -> str:
        d = f"{self.model_id} ({self.stage1.spec.backbone}, {self.stage1.spec.head} head"
        if self.trained_on == "phantoms":
            d += ", trained on synthetic phantoms"
        return d + ")"

    def decode_side(self) -> int:
        """Decode size enough for stage 1 plus hips as small as 2 % of the image side."""
        s2 = self.stage2.spec.input_size if self.stage2 is not None else 0
        return max(2 * self.stage1.spec.input_size, int(s2 / (self.options.crop_factor * 0.02)))

    # ------------------------------------------------------------ prediction

    def _source(self, image) -> tuple[ArraySource, str, object]:
        """(source, name, path or None) for a path, a Radiograph or an array."""
        from hipvision.core.radiograph import Radiograph, load_radiograph

        if isinstance(image, np.ndarray):
            if image.ndim != 2:
                raise ValueError(f"image array must be 2-D grayscale, got shape {image.shape}")
            return ArraySource(image), "<array>", None
        if isinstance(image, Radiograph):
            return ArraySource(image.pixels, image.full_size), str(image.path or "<radiograph>"), image.path
        rg = load_radiograph(image, max_side=self.decode_side())
        return ArraySource(rg.pixels, rg.full_size), str(image), Path(image)

    def _needs_more_pixels(self, src: ArraySource, raw: RawHips) -> int | None:
        """max_side to re-decode with when the crops would be upsampled by more than 25 %."""
        if self.stage2 is None or src.resolution >= 0.999:
            return None
        r = float(np.min(raw.stage1[:, 2]))
        need = self.stage2.spec.input_size / (self.options.crop_factor * max(r, 1.0))
        if src.resolution * 1.25 >= need:
            return None
        return int(math.ceil(max(src.full_size) * min(1.0, need)))

    def predict(self, image, mapping: SideMapping | None = None, *, heads=None) -> Prediction:
        """Landmarks of one radiograph. `heads` = ((x, y) of the image-left head, (x, y) of the
        image-right head), full-resolution pixels, roughly placed (a click each): stage 2 then
        refines centre, radius and rim from there instead of from stage 1's guess."""
        if heads is None:
            return self.predict_batch([image], [mapping])[0]
        heads = np.asarray(head_clicks(np.asarray(heads, dtype=np.float64).tolist()))  # image-left first
        src, name, path = self._source(image)
        with self._lock:
            raw = run_pipeline(self.stage1, self.stage2, [src], self.options, self.device, heads=heads[None])[0]
            redo = self._needs_more_pixels(src, raw) if path is not None else None
            if redo:
                from hipvision.core.radiograph import load_radiograph

                rg = load_radiograph(path, max_side=redo)
                src = ArraySource(rg.pixels, rg.full_size)
                raw = run_pipeline(self.stage1, self.stage2, [src], self.options, self.device, heads=heads[None])[0]
        pred = self._prediction(raw, mapping or SideMapping(), name, src.full_size)
        pred.details["heads_given"] = heads.tolist()
        return pred

    def predict_batch(self, images: Sequence, mappings: Sequence[SideMapping | None] | None = None, *,
                      batch_size: int = 8, progress=None, cancel=None) -> list[Prediction]:
        mappings = list(mappings) if mappings is not None else [None] * len(images)
        if len(mappings) != len(images):
            raise ValueError("one mapping per image (or None)")
        out: list[Prediction] = []
        for i in range(0, len(images), batch_size):
            check_cancel(cancel)
            chunk = images[i:i + batch_size]
            if len(chunk) > 1:
                # decoders release the GIL: read the batch's files in parallel
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=min(len(chunk), os.cpu_count() or 1, 4)) as pool:
                    srcs = list(pool.map(self._source, chunk))
            else:
                srcs = [self._source(im) for im in chunk]
            with self._lock:
                raws = run_pipeline(self.stage1, self.stage2, [s[0] for s in srcs], self.options, self.device,
                                    framed=self.framed)
                for j, (src, name, path) in enumerate(srcs):
                    redo = self._needs_more_pixels(src, raws[j]) if path is not None else None
                    if redo:
                        from hipvision.core.radiograph import load_radiograph

                        rg = load_radiograph(path, max_side=redo)
                        srcs[j] = (ArraySource(rg.pixels, rg.full_size), name, path)
                        raws[j] = run_pipeline(self.stage1, self.stage2, [srcs[j][0]], self.options, self.device,
                                               framed=self.framed)[0]
            for (src, name, _), raw, mp in zip(srcs, raws, mappings[i:i + batch_size]):
                out.append(self._prediction(raw, mp or SideMapping(), name, src.full_size))
            if progress is not None:
                progress(min(i + batch_size, len(images)), len(images), "predicting")
        return out

    def _prediction(self, raw: RawHips, mapping: SideMapping, name: str, full_size) -> Prediction:
        sides = [SideLandmarks(*(float(v) for v in h)) for h in raw.hips]
        lm = mapping.from_image_order(sides[0], sides[1])
        conf_img = _confidence(raw, self.stage2 is not None and self.stage2.spec.head == "heatmap")
        confidence: dict[str, float] = {}
        left_patient = mapping.patient_side_of_image_left()
        for h in range(2):
            patient = left_patient.value if h == 0 else left_patient.other.value
            confidence[f"{patient}.head"] = round(float(conf_img[h, 0]), 4)
            confidence[f"{patient}.radius"] = round(float(conf_img[h, 0]), 4)
            confidence[f"{patient}.rim"] = round(float(conf_img[h, 1]), 4)
        na = {}
        for side in ("left", "right"):
            try:
                na[side] = float(lm.norberg_angle(side))
            except ValueError:
                na[side] = float("nan")
        low = sorted(k for k, v in confidence.items() if v < self.low_confidence_below)
        details = {"stage1": raw.stage1.tolist(), "spread": raw.spread.tolist(), "shift": raw.shift.tolist(),
                   "flip_gap": raw.flip_gap.tolist(), **raw.info}
        return Prediction(landmarks=lm, confidence=confidence, na=na, low_confidence=low, model_id=self.model_id,
                          image=name, image_size=tuple(int(v) for v in full_size), details=details)
