"""Regenerate the main-window screenshots in this folder (phantom data, headless).

    python docs/screenshots/make_screenshots.py

Builds a small phantom project in a temporary folder (PNG and DICOM, fixed seeds) and runs
`hipvision gui PROJECT --image NAME --screenshot OUT.png` for each picture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hipvision.phantom import PhantomConfig, generate_phantoms

HERE = Path(__file__).resolve().parent
SHOTS = (  # (file, image, view): seed 3 gives a normal, a dysplastic and a DICOM case
    ("main_window_normal.png", "phantom_0001.png", "hips"),
    ("main_window_dysplastic.png", "phantom_0000.png", "hips"),
    ("main_window_dicom.png", "phantom_0006.dcm", "fit"),
)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hipvision-shots-") as tmp:
        project = Path(tmp) / "radiographs"
        config = PhantomConfig(size=2000)
        generate_phantoms(project, 6, seed=3, config=config)
        generate_phantoms(project, 2, seed=3, start=6, config=config, fmt="dicom")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HIPVISION_CONFIG_DIR=str(Path(tmp) / "config"))
        for out, image, view in SHOTS:
            subprocess.run([sys.executable, "-m", "hipvision", "gui", str(project), "--image", image, "--view", view,
                            "--screenshot", str(HERE / out)], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
