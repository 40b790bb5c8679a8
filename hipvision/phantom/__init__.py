"""Procedural VD hip radiograph phantoms with exact landmarks: the sample data, the tests'
data and the benchmarks' ground truth (test-data synthesis, kept out of `core`).

The names below load on first use (PEP 562), so that a light submodule (`phantom.style`, whose
names the CLI lists in its help) can be imported without numpy and OpenCV.
"""

from __future__ import annotations

import importlib

__all__ = ["ANNOTATIONS_NAME", "DICOM_COMPRESSIONS", "FORMATS", "STYLES", "TRUTH_NAME", "ClinicStyle", "PhantomCase",
           "PhantomConfig", "derived_seed", "generate_phantoms", "render_phantom"]
_HOME = {name: "hipvision.phantom.render" for name in __all__}
_HOME.update(STYLES="hipvision.phantom.style", ClinicStyle="hipvision.phantom.style")


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # once only
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
