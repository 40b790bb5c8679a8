"""Where the bundled resources (sample project, default model, icons) live.

In a source checkout they are the top-level `resources/` folder; in an installed wheel or a
PyInstaller bundle they are packaged as `hipvision/_resources`. One function answers both,
so no caller ever builds a path to them by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    here = Path(__file__).resolve().parent.parent  # .../hipvision
    candidates = [
        here / "_resources",  # wheel
        here.parent / "resources",  # source checkout
    ]
    frozen = getattr(sys, "_MEIPASS", None)  # PyInstaller one-folder bundle
    if frozen:
        candidates.insert(0, Path(frozen) / "hipvision" / "_resources")
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(
        "HipVision's resources folder is missing (looked in: " + ", ".join(map(str, candidates)) + ")"
    )


def sample_project_dir() -> Path:
    return resources_dir() / "samples"


def default_model_dir() -> Path:
    return resources_dir() / "models"


def icons_dir() -> Path:
    return resources_dir() / "icons"
