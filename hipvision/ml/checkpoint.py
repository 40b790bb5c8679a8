"""Model files: `<name>.safetensors` (weights of both stages, and of an optional pelvis-framed
stage 1) + `<name>.json` (the sidecar).

The sidecar says what the weights are (backbones, heads, input sizes, landmark schema,
pipeline options), how well they did (metrics), on what (data summary, trained_on) and with
which hipvision; it carries the weights' SHA-256, so a truncated, corrupted or swapped
weights file is caught before torch sees it. Both files are written to temporary names and
os.replace'd, weights first: a crash leaves the old pair or a new pair, never a sidecar that
points at missing weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

import hipvision
from hipvision.core.atomic import atomic_path, write_text_atomic
from hipvision.core.hashing import file_sha256
from hipvision.core.landmarks import LANDMARK_NAMES
from hipvision.ml.model import KeypointNet, NetSpec
from hipvision.ml.pipeline import PipelineOptions
from hipvision.ml.sidecar import FORMAT, FORMAT_VERSION, CheckpointError, read_sidecar, sidecar_path

__all__ = ["FORMAT", "FORMAT_VERSION", "CheckpointError", "ModelBundle", "load_checkpoint", "read_sidecar",
           "save_checkpoint", "sidecar_path"]

LANDMARK_SCHEMA = {
    "order": "image",  # predictions are in image order; the image's SideMapping gives patient sides
    "per_side": list(LANDMARK_NAMES),
    "coordinates": "full-resolution image pixels, pixel centres at integers, x right, y down",
}


@dataclass
class ModelBundle:
    stage1: KeypointNet
    stage2: KeypointNet | None
    options: PipelineOptions
    meta: dict = field(default_factory=dict)  # the sidecar
    # Optional: a stage-1 network trained on pelvis-framed views only, run beside stage 1 on the
    # zoomed square (pipeline.run_zoom). Trained models do not have one; the bundled model does.
    framed: KeypointNet | None = None

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id", "unnamed"))


def state_tensors(bundle: ModelBundle, *, half: bool = False) -> dict[str, torch.Tensor]:
    out = {}
    for prefix, net in (("stage1.", bundle.stage1), ("stage2.", bundle.stage2), ("framed.", bundle.framed)):
        if net is None:
            continue
        for k, v in net.state_dict().items():
            t = v.detach().to("cpu")
            if half and t.is_floating_point():
                t = t.to(torch.float16)
            out[prefix + k] = t.contiguous()
    return out


def save_checkpoint(path: str | Path, bundle: ModelBundle, *, half: bool = False) -> Path:
    """Write weights + sidecar atomically; returns the weights path."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(path, "model files must end in .safetensors")
    tensors = state_tensors(bundle, half=half)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
        # safetensors writes its file 0600 whatever the umask; the sidecar beside it gets a plain
        # open()'s mode, and a model shared with colleagues must be readable like its sidecar.
        os.chmod(tmp, 0o666 & ~_umask())
        digest = file_sha256(tmp)
    meta = dict(bundle.meta)
    meta.update({
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hipvision_version": hipvision.__version__,
        "weights_file": path.name,
        "weights_sha256": digest,
        "weights_dtype": "float16" if half else "float32",
        "stage1": bundle.stage1.spec.to_dict(),
        "stage2": bundle.stage2.spec.to_dict() if bundle.stage2 is not None else None,
        "framed": bundle.framed.spec.to_dict() if bundle.framed is not None else None,
        "pipeline": {"crop_factor": bundle.options.crop_factor, "refine_iters": bundle.options.refine_iters,
                     "crop_views": bundle.options.crop_views, "zoom": bundle.options.zoom,
                     "zoom_side": bundle.options.zoom_side, "radius_prior": bundle.options.radius_prior},
        "landmark_schema": LANDMARK_SCHEMA,
    })
    meta.setdefault("model_id", path.stem)
    meta.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    write_text_atomic(sidecar_path(path), json.dumps(meta, indent=1, sort_keys=True, default=str))
    return path


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it
    os.umask(mask)
    return mask


def load_checkpoint(path: str | Path, *, device="cpu", verify: bool = True) -> ModelBundle:
    """Build the networks the sidecar describes and load their weights (eval mode)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_sidecar(path)
    if verify and file_sha256(path) != meta["weights_sha256"]:
        raise CheckpointError(path, "weights do not match their sidecar (corrupted, truncated or replaced file)")
    try:
        s1 = NetSpec.from_dict(meta["stage1"])
        s2 = NetSpec.from_dict(meta["stage2"]) if meta.get("stage2") else None
        s3 = NetSpec.from_dict(meta["framed"]) if meta.get("framed") else None
        p = meta["pipeline"]
        options = PipelineOptions(crop_factor=float(p["crop_factor"]), refine_iters=int(p["refine_iters"]),
                                  crop_views=int(p.get("crop_views", 1)),
                                  # models from before the zoomed pass were not trained for it
                                  zoom=bool(p.get("zoom", False)), zoom_side=float(p.get("zoom_side", 2.8)),
                                  radius_prior=bool(p.get("radius_prior", False)))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(sidecar_path(path), f"sidecar describes no valid model: {exc}") from None
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(path, f"not a readable safetensors file ({exc})") from None
    nets = []
    for prefix, spec in (("stage1.", s1), ("stage2.", s2), ("framed.", s3)):
        if spec is None:
            nets.append(None)
            continue
        net = KeypointNet(spec, pretrained=False)
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        ref = net.state_dict()
        sd = {k: v.to(ref[k].dtype) if k in ref else v for k, v in sd.items()}
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise CheckpointError(
                path, f"{prefix[:-1]} weights do not fit a {spec.backbone}/{spec.head} network: {first}") from None
        nets.append(net.to(device).eval())
    return ModelBundle(stage1=nets[0], stage2=nets[1], options=options, meta=meta, framed=nets[2])
