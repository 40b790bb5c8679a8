"""Issue 13, item 4: the Models panel lists the bundled model from the start, tells retrained
models apart, fits its dock; one validation figure per model, with the images it was measured on."""

from __future__ import annotations

import re

from tests.gui.conftest import open_window, save_shot
from tests.gui.test_engine_bridge import base_project, bridge_window  # noqa: F401  (fixture by name)
from tests.gui.test_engine_bridge import project_dir as engine_project_dir  # noqa: F401


def model_names(panel) -> list[str]:
    t = panel.table
    return [t.item(r, 1).text().split("\n")[0] for r in range(t.rowCount())]


def test_models_panel_lists_the_bundled_model_before_any_retrain(qtbot, project_dir):
    win = open_window(qtbot, project_dir, with_engine=True)
    panel = win.engine_bridge.models_panel
    qtbot.waitUntil(lambda: any("(default)" in n for n in model_names(panel)), timeout=60_000)
    row = next(r for r, n in enumerate(model_names(panel)) if "(default)" in n)
    assert panel.table.item(row, 3).text() == "synthetic phantoms"
    assert re.fullmatch(r"\d+\.\d\d°\n\d+ phantoms", panel.table.item(row, 2).text())  # what it was measured on


def test_models_panel_columns_fit_the_dock(qtbot, project_dir):
    win = open_window(qtbot, project_dir, with_engine=True)
    bridge = win.engine_bridge
    panel = bridge.models_panel
    qtbot.waitUntil(lambda: panel.table.rowCount() >= 1, timeout=60_000)
    bridge.models_dock.raise_()
    qtbot.wait(100)
    t = panel.table
    for col in range(t.columnCount()):
        assert t.columnWidth(col) >= t.sizeHintForColumn(col)  # no cell elided
    assert t.horizontalScrollBar().maximum() == 0  # every column in view, no scrolling sideways
    assert t.viewport().width() >= t.horizontalHeader().length()


def test_two_retrains_on_unchanged_data_are_told_apart_and_scored_once(qtbot, engine_project_dir):  # noqa: F811
    win, bridge = bridge_window(qtbot, engine_project_dir, activate=True)
    for judged in (False, True):
        # the second one is the button's default: judged against the active model (cross-validated here)
        bridge.retrain_options["activate"] = "if_better" if judged else True
        bridge.last_retrain = None
        with qtbot.waitSignal(bridge.engine.finished, timeout=240_000,
                              check_params_cb=lambda jid, r: bridge.engine.jobs[jid].kind == "retrain"):
            bridge.retrain_action.trigger()
        qtbot.waitUntil(lambda: bridge.last_retrain is not None, timeout=5_000)
    names = model_names(bridge.models_panel)
    assert len(names) == len(set(names)), names  # two retrains within a minute: two names
    retrained = [n for n in names if n.startswith("retrained")]
    assert len(retrained) == 2  # named apart: "retrained <minute> (2)" when both ended in one minute
    # The status bar, the Models panel and the note under the plot name the images they measured on.
    result = bridge.last_retrain
    status = win.status_text.text()
    assert result.basis == "cross-validation"
    text = status if result.activated else win.banner_message
    m = re.search(r"cross-validated NA MAE (\d+\.\d\d)° on (\d+) corrected images", status) if result.activated \
        else re.search(r"NA MAE (\d+\.\d\d)° vs .* cross-validated \(3 folds\) on the (\d+) corrected", text)
    assert m, text
    row = model_names(bridge.models_panel).index(result.name)
    assert bridge.models_panel.table.item(row, 2).text() == f"{m[1]}°\n{m[2]} images (CV)"  # the same figure
    note = bridge.jobs_panel.plot_note.text()
    assert bridge.jobs_panel.plot_note.isVisible() and "Kept the last epoch" in note
    assert f"{m[1]}° on {m[2]} corrected images, cross-validated (3 folds)" in note
    save_shot(win.grab(), "retrain_cross_validated.png")
