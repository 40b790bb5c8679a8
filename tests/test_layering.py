"""The import rule is the architecture: core never imports Qt or torch, ml never Qt,
gui reaches ml only through the engine, and `import hipvision` stays light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hipvision"
QT = ("PySide6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy", "shiboken6")
HEAVY_ML = ("torch", "torchvision", "timm", "diffusers", "transformers", "peft", "accelerate", "safetensors")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def offenders(folder: str, banned: tuple[str, ...], allow: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for f in sorted((PKG / folder).rglob("*.py")):
        if any(f.match(a) for a in allow):
            continue
        for mod in imported_modules(f):
            if mod.split(".")[0] in banned or any(mod == b or mod.startswith(b + ".") for b in banned):
                bad.append(f"{f.relative_to(PKG.parent)} imports {mod}")
    return bad


# Every Qt-free package: the editing model, the phantoms and the PACS client sit beside core, below gui and ml.
QT_FREE_BELOW_ML = ("core", "annotation", "phantom", "pacs")


@pytest.mark.parametrize("package", QT_FREE_BELOW_ML)
def test_qt_free_packages_import_neither_qt_nor_ml(package):
    assert offenders(package, QT + HEAVY_ML + ("hipvision.gui", "hipvision.ml", "hipvision.commands")) == []


def test_core_does_not_reach_up_into_annotation_or_phantom():
    assert offenders("core", ("hipvision.annotation", "hipvision.phantom")) == []


def test_every_package_is_covered_by_a_layering_rule():
    covered = set(QT_FREE_BELOW_ML) | {"ml", "gui", "commands", "bench"}
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file() and not p.name.startswith("_")}
    assert packages <= covered, f"new package(s) without a layering rule: {sorted(packages - covered)}"


def test_ml_never_imports_qt_or_gui():
    assert offenders("ml", QT + ("hipvision.gui",)) == []


def test_gui_reaches_ml_only_through_engine():
    # The engine modules are the only GUI code allowed to import hipvision.ml (lazily, in the worker).
    assert offenders("gui", HEAVY_ML + ("hipvision.ml",), allow=("engine*.py", "*/engine/*.py")) == []


@pytest.mark.parametrize("module", ["hipvision", "hipvision.core", "hipvision.core.store",
                                    "hipvision.core.radiograph", "hipvision.phantom", "hipvision.cli",
                                    "hipvision.pacs"])
def test_light_imports_do_not_load_torch_or_qt(module):
    code = (f"import sys, {module}; "
            "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'timm', 'diffusers') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} loaded {out}"


# The `pacs` extra: loaded by the PACS functions that use it, never by importing the package or the CLI.
PACS_LIBS = ("pynetdicom", "dicomweb_client", "requests", "keyring", "highdicom")


def test_pacs_libraries_load_lazily():
    code = ("import sys, hipvision.pacs, hipvision.pacs.query, hipvision.pacs.retrieve, hipvision.pacs.send; "
            "from hipvision.cli import build_parser; build_parser(); "
            f"print(','.join(m for m in {PACS_LIBS!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing hipvision.pacs or building the CLI parser loaded {out}"


def test_cli_build_parser_is_light():
    code = ("import sys; from hipvision.cli import build_parser; build_parser(); "
            "print(','.join(m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"building the CLI parser loaded {out}"
