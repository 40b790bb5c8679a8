"""Models panel: list, activate, revert, delete — against the store, no engine needed."""

import pytest

from hipvision.core.store import Project
from hipvision.gui.models_panel import ModelsPanel, describe_data


@pytest.fixture
def project(tmp_path):
    p = Project.open(tmp_path)
    for i in range(3):
        f = p.models_dir / f"m{i}.safetensors"
        f.write_bytes(b"x")
        p.add_model(name=f"m{i}", backbone="resnet18", file=f, activate=True, metrics={"val_na_mae": 3.0 - i},
                    data_summary={"images": 12,
                                  "by_split": {"train": {"real": 8, "synthetic": 40}, "val": {"real": 4}}})
    yield p
    p.close()


def test_lists_models_with_metrics_and_data(qtbot, project):
    panel = ModelsPanel(project)
    qtbot.addWidget(panel)
    t = panel.table
    assert t.rowCount() == 3
    assert [t.item(r, 1).text().split("\n")[0] for r in range(3)] == ["m0", "m1", "m2"]
    assert t.item(0, 1).text().split("\n")[1].startswith("resnet18 · ")  # backbone and creation time
    assert t.item(2, 0).text() == "●" and t.item(2, 2).text() == "1.00°"
    assert t.item(0, 3).text() == "8 train (+40 synthetic)\n4 val"


def test_activate_revert_delete(qtbot, project):
    panel = ModelsPanel(project)
    qtbot.addWidget(panel)
    changed = []
    panel.active_changed.connect(changed.append)
    panel.revert()  # m2 -> m1
    assert project.active_model().name == "m1" and changed == [2]
    panel.table.selectRow(0)
    panel.activate_selected()
    assert project.active_model().name == "m0"
    assert not panel.revert_button.isEnabled()  # nothing older than m0
    panel.table.selectRow(2)
    panel.delete_selected(confirm=False)
    assert [m.name for m in project.models()] == ["m0", "m1"]
    assert not (project.models_dir / "m2.safetensors").exists()
    panel.table.selectRow(0)  # the active one cannot be deleted
    assert not panel.delete_button.isEnabled()


def test_default_model_described_as_phantoms(project):
    rec = project.add_model(name="phantom default", backbone="resnet18", file="/nonexistent/default.safetensors",
                            kind="default")
    assert describe_data(rec) == "synthetic phantoms"
