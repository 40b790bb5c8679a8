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
