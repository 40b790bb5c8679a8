"""The multi-GPU path, run for real: `accelerate launch --multi_gpu --num_processes 2 -m hipvision
train` on CPU (gloo), two processes on one machine. A unit test of `shard` cannot show that the
launcher, Accelerate and our loop agree on ranks, that only the main process writes files, or
that the DDP-wrapped model still saves as a loadable checkpoint; this does."""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hipvision.phantom import PhantomConfig, generate_phantoms

# Records which process renamed what into place: every file HipVision writes goes through
# os.replace (core.atomic), which raises the "os.rename" audit event, so nothing in the code
# under test has to know it is being watched.
SITECUSTOMIZE = textwrap.dedent("""
    import os, sys
    _log = os.environ.get("HIPVISION_TEST_WRITE_LOG")
    if _log and "RANK" in os.environ:
        _rank = os.environ["RANK"]
        def _hook(event, args):
            if event == "os.rename":
                with open(os.path.join(_log, "writes-" + _rank + ".txt"), "a") as f:
                    f.write(os.fspath(args[1]) + "\\n")
        sys.addaudithook(_hook)
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists(),
                    reason="accelerate is not installed")
def test_accelerate_launch_trains_two_processes_on_disjoint_shards_and_saves_once(tmp_path):
    folder, shards, writes, hook = (tmp_path / n for n in ("phantoms", "shards", "writes", "hook"))
    for d in (shards, writes, hook):
        d.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    generate_phantoms(folder, 8, seed=3, config=PhantomConfig(size=192))
    out = tmp_path / "model" / "m.safetensors"
    out.parent.mkdir()
    launcher = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "HIPVISION_SHARD_LOG": str(shards),
           "HIPVISION_TEST_WRITE_LOG": str(writes), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(hook), str(root), os.environ.get("PYTHONPATH", "")])}
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--num_cpu_threads_per_process", "1",
           "--main_process_port", str(free_port()),
           "-m", "hipvision", "train", str(folder), "--backbone", "test_resnet", "--input-size", "64",
           "--crop-size", "64", "--epochs", "2", "--batch-size", "2", "--no-pretrained", "--quiet",
           "--out", str(out)]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # Both ranks trained, each epoch on its own half: disjoint shards of one permutation.
    logs = {r: [json.loads(line) for line in (shards / f"shard-{r}.jsonl").read_text().splitlines()] for r in (0, 1)}
    assert sorted(shards.iterdir()) == [shards / "shard-0.jsonl", shards / "shard-1.jsonl"]
    for epoch in (0, 1):
        mine = {r: next(e for e in logs[r] if e["epoch"] == epoch) for r in (0, 1)}
        assert all(e["world"] == 2 and e["rank"] == r and e["indices"] for r, e in mine.items())
        assert not set(mine[0]["indices"]) & set(mine[1]["indices"])
        assert len(mine[0]["indices"]) == len(mine[1]["indices"])

    # One model, written once, by the main process; no training state left behind.
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.json", "m.safetensors"]
    renamed = {r: (writes / f"writes-{r}.txt").read_text().splitlines() if (writes / f"writes-{r}.txt").exists()
               else [] for r in (0, 1)}
    assert [p for p in renamed[1] if Path(p).parent == out.parent] == []
    assert [p for p in renamed[0] if Path(p).name == "m.safetensors"] == [str(out)]
    assert [p for p in renamed[0] if Path(p).name == "m.json"] == [str(out.with_suffix(".json"))]
    assert proc.stdout.count("saved ") == 1  # only the main process reports

    # The checkpoint loads without accelerate and predicts.
    from hipvision.core.radiograph import load_radiograph
    from hipvision.ml.checkpoint import read_sidecar
    from hipvision.ml.predict import Predictor

    meta = read_sidecar(out)
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and meta["trained_on"] == "phantoms"
    image = load_radiograph(folder / "phantom_0000.png").pixels
    pred = Predictor.load(out, device="cpu").predict(np.asarray(image))
    assert set(pred.na) == {"left", "right"} and all(np.isfinite(v) for v in pred.na.values())
