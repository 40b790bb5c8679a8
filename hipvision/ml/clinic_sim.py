"""A clinic you can simulate: does retraining on K of its corrected radiographs help on its others?

Phantoms in a style the bundled model never saw (`PhantomConfig.style`) stand in for a
clinic's X-ray unit. The first `max(shots)` images are the pool a vet corrects, the next
`test` images are the clinic's other radiographs. For each K the run builds a project with
the first K images corrected (every tenth in validation, as the store's share would put it),
runs exactly the Retrain button's job on it, and scores the new model — promoted or not —
on the test images, beside the starting model. Each finished arm is saved in `results.json`
under the work folder, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hipvision.core.atomic import write_text_atomic
from hipvision.core.jobs import check_cancel

RESULTS = "results.json"


@dataclass(frozen=True)
class ClinicConfig:
    work: str  # folder for the clinic's images, the projects and results.json
    style: str = "clinic-b"
    shots: tuple[int, ...] = (3, 6, 12, 24)
    test: int = 100
    size: int = 768  # the clinic's radiographs, longest side in px
    wide_fraction: float = 0.3
    seed: int = 2027
    synthetic: tuple[int, ...] = (0,)  # retrain --synthetic N arms (0: without generated images)
    model: str | None = None  # the starting model (default: the bundled one)
    threads: int | None = None
    device: str = "auto"
    retrain: dict = field(default_factory=dict)  # further RetrainJob fields

    def __post_init__(self) -> None:
        from hipvision.phantom.style import STYLES

        if self.style not in STYLES:
            raise ValueError(f"ClinicConfig.style must be one of {', '.join(STYLES)}, got {self.style!r}")
        shots = tuple(sorted(set(self.shots)))
        if not shots or any(not isinstance(k, int) or k < 2 for k in shots):
            raise ValueError(f"ClinicConfig.shots must be ints >= 2, got {self.shots!r}")
        object.__setattr__(self, "shots", shots)
        if not isinstance(self.test, int) or self.test < 1:
            raise ValueError(f"ClinicConfig.test must be a positive int, got {self.test!r}")
        if any(not isinstance(n, int) or n < 0 for n in self.synthetic):
            raise ValueError(f"ClinicConfig.synthetic must be ints >= 0, got {self.synthetic!r}")
        object.__setattr__(self, "synthetic", tuple(self.synthetic))

    def key(self) -> dict:
        """What the saved results depend on: a changed setting starts them afresh."""
        d = asdict(self)
        for k in ("work", "shots", "synthetic", "threads", "device"):
            d.pop(k)
        return d


@dataclass(frozen=True)
class Arm:
    shots: int
    synthetic: int
    na_mae: float
    within_10: float
    located: float
    promoted: bool
    reason: str
    seconds: float  # the retrain job, wall clock
    basis: str
    synthetic_added: int = 0  # generated images that passed the quality gate and were trained on


def clinic_images(config: ClinicConfig, *, progress=None, cancel=None) -> Path:
    """The clinic's radiographs (pool then test), rendered once into work/images."""
    from hipvision.phantom import PhantomConfig, generate_phantoms

    folder = Path(config.work) / "images"
    n = max(config.shots) + config.test
    have = len(list(folder.glob("phantom_*.png"))) if folder.is_dir() else 0
    if have < n:
        pc = PhantomConfig(size=config.size, style=config.style, wide_fraction=config.wide_fraction)
        generate_phantoms(folder, n - have, seed=config.seed, config=pc, start=have, progress=progress,
                          cancel=cancel)
    return folder


def _samples(folder: Path, names: list[str], split: str):
    from hipvision.ml.data import samples_from_coco

    by_name = {Path(str(s.image)).name: s for s in samples_from_coco(folder)}
    return [type(s)(**{**s.__dict__, "split": split}) for s in (by_name[n] for n in names)]


def _project(config: ClinicConfig, images: Path, names: list[str], dest: Path) -> Path:
    """A project whose first K images are corrected (imported labels count as verified)."""
    from hipvision.core.importer import import_folder
    from hipvision.core.interchange import read_coco, write_coco
    from hipvision.core.store import Project

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    items = [it for it in read_coco(images / "annotations.json") if it.image in names]
    for n in names:
        shutil.copy2(images / n, dest / n)
    write_coco(dest / "annotations.json", items, description="simulated clinic corrections")
    with Project.open(dest) as p:
        for i, n in enumerate(names):
            p.add_image(dest / n, split="val" if i % 10 == 9 else "train")
        import_folder(p, labels=True)
        if config.model:
            from hipvision.ml.registry import register_model

            register_model(p, config.model, activate=True, name="starting model")
    return dest


def _score(model_path, test) -> dict:
    from hipvision.ml.evaluate import evaluate
    from hipvision.ml.predict import Predictor

    m = evaluate(Predictor.load(model_path), test, splits=("test",)).by_split["test"]
    return {"na_mae": m["na_mae"], "within_10": m["within_10"], "located": m["located"]}


def run_clinic(config: ClinicConfig, *, progress=None, cancel=None) -> dict:
    """{"baseline": {...}, "arms": [Arm, ...]}; reuses the arms results.json already holds."""
    from hipvision.ml.predict import Predictor
    from hipvision.ml.retrain_job import RetrainJob, retrain

    work = Path(config.work)
    images = clinic_images(config, progress=progress, cancel=cancel)
    names = sorted(p.name for p in images.glob("phantom_*.png"))
    pool, test_names = names[: max(config.shots)], names[max(config.shots): max(config.shots) + config.test]
    test = _samples(images, test_names, "test")
    path = work / RESULTS
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if saved.get("key") != config.key():
        saved = {"key": config.key(), "arms": []}
    if "baseline" not in saved:
        saved["baseline"] = _score(config.model or Predictor.default_path(), test)
        write_text_atomic(path, json.dumps(saved, indent=1))
    done = {(a["shots"], a["synthetic"]) for a in saved["arms"]}
    for k in config.shots:
        for n_syn in config.synthetic:
            if (k, n_syn) in done:
                continue
            check_cancel(cancel)
            proj = _project(config, images, pool[:k], work / f"project-{k}-{n_syn}")
            t0 = time.monotonic()
            res = retrain(RetrainJob(str(proj), threads=config.threads, device=config.device, synthetic=n_syn,
                                     **config.retrain), progress=progress, cancel=cancel)
            seconds = time.monotonic() - t0
            from hipvision.core.store import Project

            with Project.open(proj, create=False) as p:
                model_file = next(m.abs_file for m in p.models() if m.id == res.model_id)
            arm = Arm(shots=k, synthetic=n_syn, promoted=res.activated, reason=res.reason, seconds=seconds,
                      basis=res.basis, synthetic_added=res.synthetic, **_score(model_file, test))
            saved["arms"].append(asdict(arm))
            write_text_atomic(path, json.dumps(saved, indent=1))
    arms = [Arm(**a) for a in saved["arms"] if a["shots"] in config.shots and a["synthetic"] in config.synthetic]
    return {"baseline": saved["baseline"], "arms": arms}


def markdown(config: ClinicConfig, result: dict) -> str:
    b = result["baseline"]
    lines = [f"Simulated clinic `{config.style}` ({config.size} px, {config.test} test images, seed {config.seed}); "
             f"starting model NA MAE {b['na_mae']:.2f}°, {b['within_10']:.0f} % of hips within 10°, "
             f"heads located {b['located']:.0f} %.", "",
             "| corrections | generated (passed the gate) | NA MAE (°) | ≤10° (%) | heads located (%) | retrain (s) "
             "| promoted | judged by |",
             "|---|---|---|---|---|---|---|---|"]
    for a in sorted(result["arms"], key=lambda a: (a.shots, a.synthetic)):
        gen = f"{a.synthetic} ({a.synthetic_added})" if a.synthetic else "0"
        lines.append(f"| {a.shots} | {gen} | {a.na_mae:.2f} | {a.within_10:.0f} | {a.located:.0f} | "
                     f"{a.seconds:.0f} | {'yes' if a.promoted else 'no'} | {a.basis} |")
    return "\n".join(lines) + "\n"
