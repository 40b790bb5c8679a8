"""Screenshots of the jobs panel mid-training and of the models panel after a retrain.

    python docs/screenshots/make_engine_screenshots.py

A phantom project with a small model trained first (so the retrain has something to beat),
then one click on Retrain: the window is grabbed after a few epochs, and again at the end.
Small images and a tiny backbone keep this to a minute or two on a laptop CPU.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
TINY = dict(input_size=128, crop_size=64, channels=16, min_samples_per_epoch=32)


def main() -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    from hipvision.core.importer import import_folder
    from hipvision.phantom import PhantomConfig, generate_phantoms
    from hipvision.core.store import Project
    from hipvision.gui.app import application, create_window, save_screenshot
    from hipvision.ml.registry import register_model
    from hipvision.ml.training import TrainConfig, train_keypoints

    with tempfile.TemporaryDirectory(prefix="hipvision-shots-") as tmp:
        os.environ["HIPVISION_CONFIG_DIR"] = str(Path(tmp) / "config")
        folder = Path(tmp) / "radiographs"
        generate_phantoms(folder, 24, seed=8, config=PhantomConfig(size=512))
        with Project.open(folder) as project:
            import_folder(project)
            first = project.models_dir / "first.safetensors"
            train_keypoints(TrainConfig(backbone="resnet18", pretrained=False, epochs=2, output=str(first),
                                        trained_on="project", **TINY), project)
            register_model(project, first, activate=True, name="first")
        app = application()
        win = create_window()
        win.resize(1440, 900)
        win.show()
        win.open_project(folder)
        bridge = win.engine_bridge
        bridge.retrain_options = {"epochs": 8, "extra": dict(TINY)}
        seen = []
        loop = QEventLoop()
        bridge.engine.metrics.connect(lambda *a: seen.append(a) or (len(seen) == 5 and loop.quit()))
        bridge.retrain_action.trigger()
        loop.exec()
        save_screenshot(win, HERE / "jobs_panel_training.png")
        done = QEventLoop()
        bridge.engine.finished.connect(lambda jid, r: bridge.engine.jobs[jid].kind == "retrain" and done.quit())
        done.exec()
        bridge.models_dock.raise_()
        QTimer.singleShot(300, app.quit)
        app.exec()
        save_screenshot(win, HERE / "models_panel.png")
        print(bridge.last_retrain)
        win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
