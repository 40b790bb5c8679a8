"""The experiment's generated images on disk, keyed by everything that made them.

Sampling 120+ gated images costs minutes on a CPU; a re-run that changes only how they are
mixed into training (or that follows a crash) reads them back instead. The key holds digests
of the generator weights and of the gate model (of their tensors, not their files), the labelled images and the sampling
settings, so a changed generator, gate or setting samples afresh.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from hipvision.core.atomic import atomic_path, write_text_atomic

NPZ, JSON = "synthetic.npz", "synthetic.json"


def weights_digest(path: Path) -> str:
    """Digest of a .safetensors file's tensors (names, dtypes, shapes, values), not its bytes:
    the same weights saved twice can be laid out in a different order in the file."""
    import torch
    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(path), framework="pt") as f:
        for name in sorted(f.keys()):
            t = f.get_tensor(name).contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def normal_key(key: dict) -> dict:
    """The key as it reads back from JSON (tuples become lists), so comparisons hold."""
    return json.loads(json.dumps(key, default=str))


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(normal_key(key), sort_keys=True).encode()).hexdigest()[:10]


def load_synthetic(folder: Path, key: dict):
    """(accepted LabelledSynthetic list, generated count, gate rejections) saved with exactly
    `key`, else None (also for a missing or unreadable cache: then the images are sampled)."""
    from hipvision.core.landmarks import HipLandmarks, SideMapping
    from hipvision.ml.diffusion.conditional import LabelledSynthetic

    try:
        meta = json.loads((folder / JSON).read_text())
        if meta.get("key") != normal_key(key):
            return None
        with np.load(folder / NPZ) as z:
            items = [LabelledSynthetic(image=z[f"image_{i}"], landmarks=HipLandmarks.from_dict(m["landmarks"]),
                                       mapping=SideMapping(bool(m["right_on_image_left"])), seed=int(m["seed"]),
                                       source=m["source"], target_na=dict(m["target_na"]))
                     for i, m in enumerate(meta["items"])]
        return items, int(meta["generated"]), dict(meta["gate_rejections"])
    except (OSError, ValueError, KeyError):
        return None


def save_synthetic(folder: Path, key: dict, items, generated: int, reasons: dict) -> None:
    """Images first, then the JSON that names them: a crash between the two leaves a cache
    whose key does not match, which is sampled afresh."""
    (folder / JSON).unlink(missing_ok=True)
    with atomic_path(folder / NPZ) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **{f"image_{i}": np.asarray(s.image, np.uint8) for i, s in enumerate(items)})
    write_text_atomic(folder / JSON, json.dumps({
        "key": normal_key(key), "generated": generated, "gate_rejections": reasons,
        "items": [{"landmarks": s.landmarks.to_dict(), "right_on_image_left": s.mapping.right_on_image_left,
                   "seed": s.seed, "source": s.source,
                   "target_na": {str(getattr(k, "value", k)): v for k, v in s.target_na.items()}}
                  for s in items]}, indent=1))
