"""The poster protocol's unconditional pool through the gate: over-generation up to 3x while some
images pass, none from a generator whose first round passed not at all, and the pool cached
either way. A tiny DDPM trained on phantoms the way the experiment trains it; the label model
is a stub whose confidence the test sets, image by image."""

from types import SimpleNamespace

import pytest
import torch

from hipvision.core.importer import import_folder
from hipvision.core.jobs import labelled
from hipvision.core.store import Project
from hipvision.ml import poster_synthetic
from hipvision.ml.diffusion import ddpm
from hipvision.ml.diffusion.denoiser_training import DenoiserTrainConfig
from hipvision.ml.diffusion.gate import Gate, GateConfig
from hipvision.ml.experiment import ExperimentConfig, _choose_data
from hipvision.ml.poster_config import PosterConfig
from hipvision.phantom import PhantomConfig, generate_phantoms

TINY_GEN = DenoiserTrainConfig(resolution=32, unet_size="tiny", batch_size=8, max_steps=2, warmup_steps=1,
                               checkpoint_every=0)


def _config(out, **poster):
    return ExperimentConfig(
        backbones=("test_resnet",), out=out, protocol="poster", labelled=5, threads=1, sample_steps=2,
        generator_train=TINY_GEN,
        poster=PosterConfig(synthetic=3, pools=("unconditional",), ddpm_resolution=32, ddpm_steps=2,
                            ours_backbone=None, **poster))


def _ctx(cfg, project, out):
    return poster_synthetic._Ctx(cfg, _choose_data(cfg, project), project, out, torch.device("cpu"),
                                 labelled(None), None, None)


@pytest.fixture(scope="module")
def project_and_ddpm(tmp_path_factory):
    """8 phantoms with their splits, and a DDPM trained on the chosen ones as the experiment trains it."""
    root = tmp_path_factory.mktemp("pool") / "p"
    generate_phantoms(root, 8, seed=4, config=PhantomConfig(size=128))
    with Project.open(root) as p:
        import_folder(p)
        return root, poster_synthetic.ddpm_generator(_ctx(_config(root.parent), p, root.parent))


@pytest.fixture
def sampled(monkeypatch):
    """How many images each DDPM sampling call made."""
    calls: list[int] = []
    real = ddpm.sample_ddpm

    def counted(gen_dir, *, seeds, **kw):
        calls.append(len(seeds))
        return real(gen_dir, seeds=seeds, **kw)

    monkeypatch.setattr(ddpm, "sample_ddpm", counted)
    return calls


def _pool(project_and_ddpm, out, monkeypatch, confidences):
    """The unconditional pool of 3 images, the label model's k-th answer with confidence
    confidences[k] (0 after them; the gate wants 0.5)."""
    root, ddpm_dir = project_and_ddpm
    with Project.open(root, create=False) as p:
        landmarks = next(iter(p.labelled(("train",))))[1]  # any real labels: the stub's prediction
        answers = iter(confidences)

        def predict(image, mapping):
            c = next(answers, 0.0)
            return SimpleNamespace(landmarks=landmarks, confidence={"left_head": c, "right_rim": c})

        gate = Gate(predict, GateConfig(min_confidence=0.5))
        monkeypatch.setattr(poster_synthetic, "label_gate", lambda ctx: (gate, "stub", "stub"))
        (pool,), _ = poster_synthetic.build_pools(_ctx(_config(out, ddpm_generator=ddpm_dir), p, out), 3)
    return pool


def test_a_generator_none_of_whose_images_pass_is_sampled_once_and_the_empty_pool_cached(
        project_and_ddpm, tmp_path, monkeypatch, sampled):
    pool = _pool(project_and_ddpm, tmp_path, monkeypatch, [])
    assert sampled == [3]  # the first 3 images, and no second round of what cannot pass
    assert pool.samples == [] and pool.generated == 3 and pool.by_source == {"ddpm": 0}
    assert pool.rejections == {"confidence": 3}
    assert pool.notes[-1] == ("ddpm: 0 of 3 images passed the gate (low confidence 3); not over-generated "
                              "(more of the same cannot pass)")
    assert (tmp_path / "poster_pools" / "unconditional" / "synthetic.json").is_file()

    # a re-run reads the empty pool back: nothing sampled, the same note
    sampled.clear()
    again = _pool(project_and_ddpm, tmp_path, monkeypatch, [0.9] * 9)
    assert sampled == []
    assert again.samples == [] and again.generated == 3 and again.notes == pool.notes


def test_a_generator_some_of_whose_images_pass_is_over_generated_up_to_three_times(
        project_and_ddpm, tmp_path, monkeypatch, sampled):
    pool = _pool(project_and_ddpm, tmp_path, monkeypatch, [0.9])  # the first image passes, no other
    assert sampled == [3, 2, 2, 2] and pool.generated == 9  # 3 asked, 3x that at most
    assert len(pool.samples) == 1 and pool.by_source == {"ddpm": 1} and pool.rejections == {"confidence": 8}
    assert not any("passed the gate" in n for n in pool.notes)


def test_a_pool_over_generated_by_an_older_version_is_not_said_to_be_stopped_early():
    from hipvision.ml.poster_synthetic import unpassed_notes

    # cached before the stop rule: 3 x 58 made, all rejected
    assert unpassed_notes({"ddpm": 58}, {"ddpm": 0}, {"confidence": 174}, 174) == [
        "ddpm: 0 of 174 images passed the gate (low confidence 174)"]
    assert unpassed_notes({"ddpm": 58}, {"ddpm": 0}, {"confidence": 58}, 58) == [
        "ddpm: 0 of 58 images passed the gate (low confidence 58); not over-generated (more of the same cannot pass)"]
