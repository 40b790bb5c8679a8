"""Model files round-trip exactly; broken or mismatched files give a clear CheckpointError."""

import json
import shutil

import numpy as np
import pytest
import torch

from hipvision.ml.checkpoint import CheckpointError, load_checkpoint, read_sidecar, save_checkpoint, sidecar_path


@pytest.fixture()
def model_copy(tmp_path, tiny_model):
    dst = tmp_path / "copy.safetensors"
    shutil.copy(tiny_model.checkpoint, dst)
    shutil.copy(sidecar_path(tiny_model.checkpoint), sidecar_path(dst))
    return dst


def _outputs(bundle, x1, x2):
    with torch.no_grad():
        return bundle.stage1(x1).points, bundle.stage2(x2).points


def test_round_trip_gives_identical_outputs(tmp_path, model_copy):
    a = load_checkpoint(model_copy)
    out = save_checkpoint(tmp_path / "again.safetensors", a)
    b = load_checkpoint(out)
    torch.manual_seed(0)
    x1, x2 = torch.rand(2, 1, 128, 128), torch.rand(2, 1, 64, 64)
    for pa, pb in zip(_outputs(a, x1, x2), _outputs(b, x1, x2)):
        assert torch.equal(pa, pb)
    assert b.options == a.options and b.model_id == a.model_id == "tiny"  # the id travels with the model
    assert read_sidecar(out)["stage1"] == read_sidecar(model_copy)["stage1"]


def test_half_precision_file_is_smaller_and_close(tmp_path, model_copy):
    a = load_checkpoint(model_copy)
    half = save_checkpoint(tmp_path / "half.safetensors", a, half=True)
    assert half.stat().st_size < 0.6 * model_copy.stat().st_size
    b = load_checkpoint(half)
    x1, x2 = torch.rand(1, 1, 128, 128), torch.rand(1, 1, 64, 64)
    for pa, pb in zip(_outputs(a, x1, x2), _outputs(b, x1, x2)):
        assert np.allclose(pa.numpy(), pb.numpy(), atol=0.5)


def test_corrupted_weights_are_caught_and_the_file_named(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="copy.safetensors.*corrupted"):
        load_checkpoint(model_copy)


def test_truncated_weights_are_caught(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="copy.safetensors"):
        load_checkpoint(model_copy)


def test_garbage_that_matches_its_sidecar_hash_is_still_refused(model_copy):
    import hashlib

    model_copy.write_bytes(b"not a safetensors file at all")
    side = sidecar_path(model_copy)
    meta = json.loads(side.read_text())
    meta["weights_sha256"] = hashlib.sha256(model_copy.read_bytes()).hexdigest()
    side.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(model_copy)


def test_missing_sidecar_is_named(model_copy):
    sidecar_path(model_copy).unlink()
    with pytest.raises(CheckpointError, match="copy.json is missing"):
        load_checkpoint(model_copy)


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.update(format="something-else"), "not a HipVision keypoint model"),
    (lambda m: m.update(format_version=99), "format version 99"),
    (lambda m: m["stage1"].update(backbone="resnet18"), "do not fit a resnet18"),
    (lambda m: m["stage2"].update(head="banana"), "sidecar describes no valid model"),
])
def test_inconsistent_sidecar_is_refused(model_copy, edit, match):
    side = sidecar_path(model_copy)
    meta = json.loads(side.read_text())
    edit(meta)
    side.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(model_copy)


def test_unparsable_sidecar_is_named(model_copy):
    sidecar_path(model_copy).write_text("{ nope")
    with pytest.raises(CheckpointError, match="copy.json: sidecar is not valid JSON"):
        load_checkpoint(model_copy)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_weights_and_sidecar_get_the_same_mode_a_plain_file_would(tmp_path, model_copy, umask, mode):
    import os
    import stat

    bundle = load_checkpoint(model_copy)
    old = os.umask(umask)
    try:
        out = save_checkpoint(tmp_path / "shared.safetensors", bundle)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert stat.S_IMODE(sidecar_path(out).stat().st_mode) == mode


def test_a_pelvis_framed_stage1_travels_with_the_model(tmp_path, model_copy):
    import copy

    a = load_checkpoint(model_copy)
    assert a.framed is None  # trained models have none
    a.framed = copy.deepcopy(a.stage1)
    with torch.no_grad():
        for p in a.framed.parameters():
            p.add_(0.01)  # different weights from stage 1, to see that they are its own
    out = save_checkpoint(tmp_path / "framed.safetensors", a)
    b = load_checkpoint(out)
    assert b.framed is not None and read_sidecar(out)["framed"] == read_sidecar(out)["stage1"]
    x = torch.rand(1, 1, 128, 128)
    with torch.no_grad():
        assert torch.equal(a.framed(x).points, b.framed(x).points)
        assert not torch.equal(b.framed(x).points, b.stage1(x).points)
    assert load_checkpoint(model_copy).framed is None  # a file from before still loads, without one
