"""`run_experiment` with protocol "poster": both synthetic pools, the poster's table with our
model's rows beside it, numbers on the real test split, and a re-run that trains nothing."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from hipvision.core.importer import import_folder
from hipvision.core.store import Project
from hipvision.ml import poster_training
from hipvision.ml.diffusion.conditional import ConditionalConfig
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
from hipvision.ml.experiment import ExperimentConfig, run_experiment
from hipvision.ml.poster_config import POSTER18, POSTER_CPU, POSTER_NAMED, PosterConfig
from hipvision.phantom import PhantomConfig, generate_phantoms

TINY_GEN = DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=8, max_steps=2, warmup_steps=1,
                               checkpoint_every=0)


@pytest.fixture(scope="module")
def labelled_project(tmp_path_factory):
    """14 phantoms at 192 px, imported with their splits, and a tiny active model (the labeller)."""
    from hipvision.ml.registry import register_model
    from hipvision.ml.training import TrainConfig, train_keypoints

    root = tmp_path_factory.mktemp("poster") / "p"
    generate_phantoms(root, 14, seed=4, config=PhantomConfig(size=192))
    with Project.open(root) as p:
        import_folder(p)
        out = p.models_dir / "tiny.safetensors"
        train_keypoints(TrainConfig(backbone="test_resnet", pretrained=False, epochs=1, batch_size=4, input_size=64,
                                    crop_size=64, channels=16, threads=2, output=str(out)), p)
        register_model(p, out, activate=True, name="tiny")
    return root


def _config(out, **poster):
    return ExperimentConfig(
        backbones=("test_resnet",), out=out, protocol="poster", labelled=5, epochs=2, batch_size=4, input_size=64,
        crop_size=64, pretrained=False, threads=1, gate=False, sample_steps=2, generator_train=TINY_GEN,
        conditional=ConditionalConfig(variants=2, max_side=256),
        poster=PosterConfig(synthetic=3, finetune_epochs=1, ddpm_resolution=32, ddpm_steps=2,
                            ours_backbone="test_resnet", **poster))


@pytest.fixture(scope="module")
def first_run(labelled_project, tmp_path_factory):
    out = tmp_path_factory.mktemp("poster_out")
    return run_experiment(_config(out), labelled_project), out


def test_the_table_has_both_protocols_measured_on_the_real_test_split(first_run, labelled_project):
    from hipvision.ml.checkpoint import load_checkpoint
    from hipvision.ml.data import samples_from_project

    result, out = first_run
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["model"], r["backbone"]) for r in rows] == [("poster", "test_resnet"), ("ours", "test_resnet")]
    with Project.open(labelled_project, create=False) as p:
        test = samples_from_project(p, ("test",), source="real")
        assert not p.images(source="synthetic")  # the project is not changed
    for r in rows:
        assert int(r["test_hips"]) == 2 * len(test)
        for arm in ("with", "with_conditional"):
            m0, m1 = float(r["mape_without"]), float(r[f"mape_{arm}"])
            assert float(r[f"mape_{arm}_improvement_pct"]) == pytest.approx((m0 - m1) / m0 * 100, abs=1e-3)
    # each poster number is its saved single-stage model measured on the test split
    arms = {(a.model, a.arm): a for a in result.arms}
    for arm in ("without", "with", "with_conditional"):
        a = arms[("poster", arm)]
        net = load_checkpoint(a.checkpoint).stage1
        again = poster_training.measure(net, test, poster_training.ImageCache().get(test, 64), torch.device("cpu"))
        assert again["na_mape"] == pytest.approx(a.test["na_mape"], abs=1e-6)
        assert a.selected_epoch in (1, 2) and a.finetune_epoch in (0, 1) and a.pretrained is False
    assert arms[("poster", "with")].synthetic == arms[("ours", "with")].synthetic == 3
    md = (out / "results.md").read_text()
    assert "poster (1 stage, MSE)" in md and "ours (2 stages, heatmap)" in md and "Average improvement" in md
    assert "DreamBooth left out" in md and "scratch" in md
    info = json.loads((out / "experiment.json").read_text())
    assert info["protocol"] == "poster" and {p["name"] for p in info["pools"]} == {"unconditional", "conditional"}
    # same budget for every arm: ours runs the poster's epochs + fine-tune epochs
    ours = load_checkpoint(arms[("ours", "with")].checkpoint).meta["train_config"]
    assert ours["epochs"] == 3 and ours["min_samples_per_epoch"] == result.samples_per_epoch == 5 + 3


def test_ddpm_images_carry_the_label_models_landmarks(first_run, labelled_project):
    from hipvision.ml.predict import Predictor
    from hipvision.ml.synthetic_cache import load_synthetic

    result, out = first_run
    pool = next(p for p in result.pools if p.name == "unconditional")
    assert pool.by_source == {"ddpm": 3} and len(pool.samples) == 3
    meta = json.loads((out / "poster_pools" / "unconditional" / "synthetic.json").read_text())
    items, _, _ = load_synthetic(out / "poster_pools" / "unconditional", meta["key"])
    with Project.open(labelled_project, create=False) as p:
        pred = Predictor.for_project(p, device="cpu")
    s = pool.samples[0]
    assert s.source == "synthetic" and s.split == "train"
    assert pred.predict(np.asarray(items[0].image, np.float32), items[0].mapping).landmarks == s.landmarks


def test_a_rerun_reuses_every_finished_arm_and_pool(first_run, labelled_project, monkeypatch):
    from hipvision.ml import experiment

    result, out = first_run
    models = sorted((out / "models").glob("*.safetensors"))
    assert len(models) == 6  # 3 poster arms + 3 of ours
    stamps = {m: m.stat().st_mtime_ns for m in models}
    pools = {p: p.stat().st_mtime_ns for p in (out / "poster_pools").rglob("synthetic.npz")}
    calls = []

    def count(name, real):
        def wrapped(*a, **k):
            calls.append(name)
            return real(*a, **k)
        return wrapped

    monkeypatch.setattr(poster_training, "train_poster", count("poster", poster_training.train_poster))
    import hipvision.ml.training as training

    monkeypatch.setattr(training, "train_keypoints", count("ours", training.train_keypoints))
    again = experiment.run_experiment(_config(out), labelled_project)
    assert calls == []
    assert {m: m.stat().st_mtime_ns for m in models} == stamps
    assert {p: p.stat().st_mtime_ns for p in pools} == pools
    assert all(a.reused for a in again.arms)
    assert again.rows == result.rows

    # one knob of the poster protocol changed: the poster arms retrain, nothing else is touched
    run_experiment(replace(_config(out), poster=replace(_config(out).poster, finetune_lr_factor=0.5,
                                                        ours_backbone=None)), labelled_project)
    assert calls == ["poster"] * 3


def test_presets_name_the_posters_three_and_fifteen_more():
    from hipvision.ml.zoo import ZOO

    cfg = ExperimentConfig(backbones=("poster18",), out="x", protocol="poster")
    assert len(cfg.backbones) == 18 == len(set(cfg.backbones)) and set(POSTER_NAMED) <= set(cfg.backbones)
    assert all(b in ZOO for b in POSTER18)
    assert ExperimentConfig(backbones=("poster-cpu", "resnet18"), out="x").backbones == POSTER_CPU


def test_a_pool_the_gate_empties_trains_no_arm_and_reads_not_measured(labelled_project, tmp_path, monkeypatch):
    """The label model is sure of no DDPM image (the real failure: every confidence 0.00): the
    DDPM is sampled once, no "with" arm is trained, the column reads not measured everywhere;
    the conditional column is trained and measured as before."""
    from types import SimpleNamespace

    from hipvision.ml import poster_synthetic
    from hipvision.ml.diffusion import ddpm
    from hipvision.ml.diffusion.gate import Gate, GateConfig, GateDecision

    class ConditionalPasses(Gate):
        def labelled(self, image, mapping, condition):
            return self._count(GateDecision(True, 0.0, ""))

    gate = ConditionalPasses(lambda im, mp: SimpleNamespace(landmarks=None, confidence={"left_head": 0.0}),
                             GateConfig(min_confidence=0.5))
    monkeypatch.setattr(poster_synthetic, "label_gate", lambda ctx: (gate, "stub", "stub"))
    sampled: list[int] = []
    real = ddpm.sample_ddpm
    monkeypatch.setattr(ddpm, "sample_ddpm", lambda d, *, seeds, **kw: sampled.append(len(seeds)) or real(
        d, seeds=seeds, **kw))
    out = tmp_path / "out"
    result = run_experiment(replace(_config(out), gate=True), labelled_project)

    assert sampled == [3]
    pool = next(p for p in result.pools if p.name == "unconditional")
    assert pool.samples == [] and pool.generated == 3
    assert sorted(m.name for m in (out / "models").glob("*.safetensors")) == [
        "poster-test_resnet-with_conditional.safetensors", "poster-test_resnet-without.safetensors",
        "test_resnet-with_conditional.safetensors", "test_resnet-without.safetensors"]
    assert {(a.model, a.arm) for a in result.arms} == {(m, w) for m in ("poster", "ours")
                                                        for w in ("without", "with_conditional")}
    why = "0 of 3 generated images passed the gate; no arm trained (it would repeat 'without')"
    md = (out / "results.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("- *with DDPM/DreamBooth*:"))
    assert line.startswith(f"- *with DDPM/DreamBooth*: not measured: {why}.")
    assert "ddpm: 0 of 3 images passed the gate (low confidence 3); not over-generated" in line
    assert f"Average improvement with DDPM/DreamBooth: not measured: {why}." in md
    assert "nan" not in md.lower()
    for model in ("poster (1 stage, MSE)", "ours (2 stages, heatmap)"):
        cells = next(line for line in md.splitlines() if line.startswith(f"| {model} |")).split("|")[1:-1]
        assert [c.strip() for c in cells[4:6]] == ["—", "—"]  # with DDPM/DreamBooth: MAPE, improvement
        assert float(cells[6]) > 0 and cells[7].strip().endswith("%")  # with conditional: measured
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 2 and all(len(r) == len(rows[0]) and None not in r for r in rows)
    for r in rows:
        assert r["mape_with"] == r["mape_with_improvement_pct"] == r["mae_with"] == ""
        assert float(r["mape_with_conditional"]) > 0
    info = json.loads((out / "experiment.json").read_text(), parse_constant=pytest.fail)  # no NaN in it
    assert info["not_measured"] == {"with": why}
    assert all(r["mape_with"] is None and r["mape_with_conditional"] > 0 for r in info["rows"])
    assert np.isnan(result.mean_improvement("with")) and np.isfinite(result.mean_improvement("with_conditional"))

    # a re-run reads the empty pool back: nothing sampled, nothing trained
    sampled.clear()
    again = run_experiment(replace(_config(out), gate=True), labelled_project)
    assert sampled == [] and all(a.reused for a in again.arms) and again.rows == result.rows
