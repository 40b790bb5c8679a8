"""Issue 13, item 4: the Generate dialog says how long a generator training takes before it
starts; its failures name no CLI flag, and an expected failure prints no traceback."""

from __future__ import annotations

import logging
import re

from PySide6.QtWidgets import QDialog

from hipvision.gui.engine import Engine
from hipvision.gui.generate_dialog import GenerateDialog


def dialog_for(qtbot, project_dir, tmp_path, **kw) -> GenerateDialog:
    d = GenerateDialog(str(project_dir), generators_dir=tmp_path / "no_generators", **kw)
    qtbot.addWidget(d)
    d.show()
    return d


def test_training_shows_a_time_estimate_before_it_starts(qtbot, project_dir, tmp_path):
    d = dialog_for(qtbot, project_dir, tmp_path, device="cpu")
    assert d.train_radio.isChecked() and d.estimate.isVisible()  # no generator yet: training comes first
    text = d.estimate.text()
    assert re.search(r"\d+ training images × 50 epochs = [\d,]+ steps: roughly about \d+ (min|h) on the CPU", text)
    d.resolution.setCurrentText("256")  # 4x the pixels of 128: a longer estimate
    assert d.estimate.text() != text


def test_dreambooth_without_a_stable_diffusion_folder_points_to_preferences(qtbot, project_dir, tmp_path):
    d = dialog_for(qtbot, project_dir, tmp_path, sd_base_dir=None)
    d.method.setCurrentIndex(d.method.findData("dreambooth"))
    d.accept()
    assert d.result() != QDialog.DialogCode.Accepted and d.request is None
    assert "Preferences" in d.error.text() and "--" not in d.error.text()


def test_an_expected_failure_is_one_line_in_the_log_a_bug_keeps_its_traceback(qtbot, caplog):
    from hipvision.ml.diffusion.denoiser_training import read_meta

    engine = Engine()
    try:
        caplog.set_level(logging.INFO, logger="hipvision.gui.engine")
        with qtbot.waitSignal(engine.failed, timeout=10_000) as sig:
            engine.submit("generate", lambda cfg, **_: read_meta(cfg), "/nonexistent/generator", title="g")
        assert "no trained generator" in sig.args[1] and "--" not in sig.args[1]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert "Traceback" not in caplog.text and "no trained generator" in caplog.text
        caplog.clear()
        with qtbot.waitSignal(engine.failed, timeout=10_000):
            engine.submit("generate", lambda cfg, **_: {}[cfg], "key", title="bug")
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] and "Traceback" in caplog.text
    finally:
        engine.shutdown()
