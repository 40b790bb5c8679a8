"""`hipvision models`: the zoo and the bundled model, labelled as trained on phantoms."""

import json

from hipvision.cli import main


def test_models_lists_zoo_and_default(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "densenet161" in out and "squeezenet1_1" in out and "efficientnet_b0" in out
    assert "trained on synthetic phantoms" in out


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["zoo"]) >= 18
    assert data["default"]["trained_on"] == "phantoms"


def test_models_of_a_project_marks_the_active_one(tmp_path, capsys):
    import shutil

    from hipvision.core.store import Project
    from hipvision.ml.predict import Predictor

    folder = tmp_path / "proj"
    folder.mkdir()
    dst = tmp_path / "m.safetensors"
    shutil.copy(Predictor.default_path(), dst)
    shutil.copy(Predictor.default_path().with_suffix(".json"), dst.with_suffix(".json"))
    with Project.open(folder) as project:
        project.add_model(name="mine", backbone="resnet18", file=dst, activate=True)
    assert main(["models", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Project models (1):" in out and " *  1  mine" in out
