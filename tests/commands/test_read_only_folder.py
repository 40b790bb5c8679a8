"""A read-only folder keeps its project in the user data dir; a folder that became read-only
after it had a project keeps using that one, read-only. `train`, `evaluate` and `export` must read
the project (its splits, the landmarks people edited there), not the folder's annotations.json."""

import csv
import os
import stat

import pytest

from hipvision.cli import main
from hipvision.core import locations
from hipvision.core.interchange import read_csv
from hipvision.core.landmarks import SideLandmarks
from hipvision.core.store import Project, find_project
from hipvision.phantom import PhantomConfig, generate_phantoms

TINY_ARGS = ["--backbone", "test_resnet", "--input-size", "64", "--crop-size", "64", "--epochs", "1",
             "--batch-size", "2", "--no-pretrained", "--quiet", "--device", "cpu"]


@pytest.fixture
def read_only_folder(tmp_path, monkeypatch):
    """6 phantoms in a folder nobody may write to, imported: the project lives in the user data dir."""
    folder = tmp_path / "ro"
    generate_phantoms(folder, 6, seed=11, config=PhantomConfig(size=192))
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))
    if os.geteuid() == 0:
        # root ignores permission bits; simulate the OS's answer instead (as tests/core/test_store.py does).
        monkeypatch.setattr("hipvision.core.locations._folder_writable", lambda folder: False)
    paths = [folder, *folder.iterdir()]
    for p in paths:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        assert main(["import", str(folder)]) == 0
        yield folder
    finally:
        for p in paths:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_find_project_finds_a_read_only_folders_project_in_the_user_data_dir(read_only_folder, tmp_path):
    project = find_project(read_only_folder)
    assert project is not None
    with project:
        assert project.fallback and project.data_dir.is_relative_to(tmp_path / "userdata")
        assert len(project.images()) == 6
    assert not (read_only_folder / ".hipvision").exists()
    assert find_project(tmp_path / "userdata") is None  # a folder without a project has none


def test_train_and_evaluate_of_a_read_only_folder_use_its_project(read_only_folder, tmp_path, monkeypatch, capsys):
    from hipvision.ml.training import loop

    # The test opens the project directly, so that a broken find_project fails the commands, not the setup.
    with Project.open(read_only_folder, create=False) as project:
        rec = project.labelled(("train",))[0][0]
        lm = project.current_landmarks(rec.id)
        # A person moves one head in the app: only the project knows, annotations.json does not.
        edited = lm.with_side("left", SideLandmarks(lm.left.head_x + 9, lm.left.head_y, lm.left.head_r,
                                                    lm.left.rim_x, lm.left.rim_y))
        project.save_annotation(rec.id, edited)
        splits = {r.path: r.split for r, _ in project.labelled(("train", "val", "test"))}

    seen = []
    real_split = loop.split_samples
    monkeypatch.setattr(loop, "split_samples", lambda samples, config: (seen.extend(samples),
                                                                        real_split(samples, config))[1])
    assert main(["train", str(read_only_folder), *TINY_ARGS, "--activate", "yes", "--name", "ro-model"]) == 0
    by_name = {s.name: s for s in seen}
    assert by_name[rec.path].landmarks == edited  # the edit, not annotations.json
    assert {n: s.split for n, s in by_name.items()} == {n: sp for n, sp in splits.items() if sp in ("train", "val")}
    with Project.open(read_only_folder, create=False) as project:
        active = project.active_model()
        assert active is not None and active.name == "ro-model"
        assert active.abs_file.is_relative_to(tmp_path / "userdata")  # saved with the project, not in the folder

    capsys.readouterr()
    rows = tmp_path / "rows.csv"
    assert main(["evaluate", str(read_only_folder), "--split", "train", "--split", "val", "--split", "test",
                 "--csv", str(rows), "--no-tta", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Evaluation of ro-model" in out  # the project's active model
    for split in ("train", "val", "test"):
        n = sum(sp == split for sp in splits.values())
        if n:
            assert f"| {split} | {n} | {2 * n} |" in out  # the project's splits, not one "all"
    table = list(csv.DictReader(rows.open()))
    edited_rows = {r["side"]: float(r["na_true"]) for r in table if r["image"] == rec.path}
    assert edited_rows["left"] == pytest.approx(edited.norberg_angle("left"))
    assert edited_rows["left"] != pytest.approx(lm.norberg_angle("left"))


@pytest.fixture
def became_read_only(tmp_path, monkeypatch):
    """6 phantoms imported while the folder was writable; a person moved one head in the app;
    then the folder became read-only (a share remounted, a CD, permissions changed)."""
    folder = tmp_path / "clinic"
    generate_phantoms(folder, 6, seed=11, config=PhantomConfig(size=192))
    monkeypatch.setenv("HIPVISION_DATA_DIR", str(tmp_path / "userdata"))
    assert main(["import", str(folder)]) == 0
    with Project.open(folder) as project:
        rec = project.labelled(("train",))[0][0]
        lm = project.current_landmarks(rec.id)
        edited = lm.with_side("left", SideLandmarks(lm.left.head_x + 9, lm.left.head_y, lm.left.head_r,
                                                    lm.left.rim_x, lm.left.rim_y))
        project.save_annotation(rec.id, edited)
    if os.geteuid() == 0:  # root ignores permission bits: the folder's answer is simulated
        real = locations._folder_writable
        monkeypatch.setattr(locations, "_folder_writable",
                            lambda f: False if f == folder.resolve() else real(f))
    paths = [folder, *folder.rglob("*")]
    for p in paths:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield folder, rec.path, edited
    finally:
        for p in paths:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_export_of_a_folder_that_became_read_only_has_the_vets_edit(became_read_only, tmp_path, capsys):
    folder, name, edited = became_read_only
    db = folder / ".hipvision" / "project.sqlite"
    before = db.read_bytes()
    out = tmp_path / "x.csv"
    assert main(["export", str(folder), "--out", str(out)]) == 0
    rows = {i.image: i.landmarks for i in read_csv(out)}
    assert rows[name] == edited
    assert db.read_bytes() == before and not (tmp_path / "userdata").exists()


@pytest.mark.parametrize("argv, says", [(["import"], "cannot import: "), (["retrain"], "cannot retrain: "),
                                        (["train", *TINY_ARGS], "cannot save a model into the project: ")])
def test_writing_commands_on_a_read_only_project_say_so_in_one_line(became_read_only, argv, says, capsys):
    folder, _, _ = became_read_only
    assert main([argv[0], str(folder), *argv[1:]]) == 2
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"hipvision {argv[0]}: error: {says}")
    assert f"{folder.resolve()} is read-only" in line and "edits cannot be saved" in line
    assert "Traceback" not in err


def test_train_and_evaluate_of_a_folder_that_became_read_only_use_the_vets_edit(became_read_only, tmp_path,
                                                                                monkeypatch, capsys):
    from hipvision.ml.training import loop

    folder, name, edited = became_read_only
    seen = []
    real_split = loop.split_samples
    monkeypatch.setattr(loop, "split_samples", lambda samples, config: (seen.extend(samples),
                                                                        real_split(samples, config))[1])
    model = tmp_path / "m.safetensors"
    assert main(["train", str(folder), *TINY_ARGS, "--out", str(model)]) == 0
    assert {s.name: s for s in seen}[name].landmarks == edited  # the project, not annotations.json
    assert "is read-only" in capsys.readouterr().err and model.is_file()
    with Project.open(folder, create=False) as project:
        assert project.models() == []  # nothing was registered in the read-only project

    rows = tmp_path / "rows.csv"
    assert main(["evaluate", str(folder), "--model", str(model), "--split", "train", "--csv", str(rows),
                 "--no-tta", "--device", "cpu"]) == 0
    table = {r["side"]: float(r["na_true"]) for r in csv.DictReader(rows.open()) if r["image"] == name}
    assert table["left"] == pytest.approx(edited.norberg_angle("left"))
