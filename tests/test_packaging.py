"""Packaging: the wheel carries code + resources and installs into a fresh venv; the desktop
files are valid; the icons exist at every declared size; the Linux installer puts them where
freedesktop desktops look. See docs/packaging.md."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hipvision

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
BUNDLE_EXE = ROOT / "dist" / "hipvision" / "hipvision"
# What a wheel build needs from the tree; the rest (tests, docs, .venv) only slows the copy.
BUILD_INPUTS = ("hipvision/", "resources/", "pyproject.toml", "README.md", "LICENSE")
posix_only = pytest.mark.skipif(os.name != "posix", reason="venv layout and shell scripts of POSIX")


def _tree_files() -> list[str]:
    """Files a fresh clone (plus uncommitted work) has, not what .gitignore excludes."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
        files = [f for f in out.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist, say)
        files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file()
                 and not {"__pycache__", ".venv", "build", "dist", ".git"} & set(p.relative_to(ROOT).parts)]
    return [f for f in files if f.startswith(BUILD_INPUTS) and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    # Built from a copy: setuptools' build/lib in the checkout can hold files deleted since,
    # and a wheel built from it would ship them.
    src = tmp_path_factory.mktemp("src")
    for f in _tree_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    return src


@pytest.fixture(scope="module")
def wheel(source_copy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-isolation: no download of a build env (offline); -x: build-system lists "wheel",
    # which setuptools>=70.1 does not need.
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
                        "--outdir", str(out), str(source_copy)], cwd=source_copy, capture_output=True, text=True)
    assert r.returncode == 0, f"wheel build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    wheels = list(out.glob("hipvision-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


# ---------------------------------------------------------------------------------- wheel


def test_pyproject_lists_every_package():
    from setuptools import find_namespace_packages

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    on_disk = {p for p in find_namespace_packages(str(ROOT), include=["hipvision", "hipvision.*"])
               if any(f.is_file() for f in (ROOT / p.replace(".", "/")).iterdir())
               and not p.endswith("__pycache__")}
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml, or the wheel lacks them"
    gone = sorted(p for p in listed - {"hipvision._resources"} if not (ROOT / p.replace(".", "/")).is_dir())
    assert not gone, f"pyproject.toml lists packages that do not exist: {gone}"
    assert cfg["package-dir"]["hipvision._resources"] == "resources"


def test_wheel_carries_code_and_resources(wheel, source_copy):
    with zipfile.ZipFile(wheel) as z:
        infos = {i.filename: i for i in z.infolist()}
    code = [p for p in (source_copy / "hipvision").rglob("*.py")]
    missing_code = [p.relative_to(source_copy).as_posix() for p in code
                    if p.relative_to(source_copy).as_posix() not in infos]
    assert not missing_code, f"wheel lacks modules: {missing_code[:10]}"
    res = [p for p in (source_copy / "resources").rglob("*") if p.is_file()]
    assert res, "resources/ is empty"
    for p in res:
        name = "hipvision/_resources/" + p.relative_to(source_copy / "resources").as_posix()
        assert name in infos, f"wheel lacks {name}"
        assert infos[name].file_size == p.stat().st_size, name
    for n in ICON_SIZES:
        assert f"hipvision/_resources/icons/hipvision-{n}.png" in infos
    for sub in ("samples", "models"):
        if any((source_copy / "resources" / sub).rglob("*")):
            assert any(k.startswith(f"hipvision/_resources/{sub}/") for k in infos), sub
    assert not [k for k in infos if "__pycache__" in k or k.endswith(".pyc")]
    assert not [k for k in infos if k.startswith(("tests/", "packaging/", "resources/"))]


def test_wheel_metadata_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        dist = next(n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        eps = configparser.ConfigParser()
        eps.optionxform = str
        eps.read_string(z.read(f"{dist}/entry_points.txt").decode())
        meta = z.read(f"{dist}/METADATA").decode()
    assert eps["console_scripts"]["hipvision"].strip() == "hipvision.cli:main"
    assert eps["gui_scripts"]["hipvision-gui"].strip() == "hipvision.cli:gui_main"
    assert f"\nVersion: {hipvision.__version__}\n" in meta
    assert "Requires-Dist: PySide6-Essentials" in meta and "Requires-Dist: torch" in meta


@posix_only
def test_wheel_installs_in_fresh_venv_and_runs_demo(wheel, tmp_path):
    """(~5 s: the demo shows verified labels and loads no model.) A fresh venv gets the wheel with
    --no-deps; its heavy dependencies (torch, Qt: GBs) come
    from the project venv through a .pth line, so this checks honestly that the *wheel*
    carries the code and resources without downloading 6 GB. A .pth-added folder's own .pth
    files are not run, so the project's editable install stays invisible."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "--no-deps", "--no-index",
                        "--quiet", str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    purelib = Path(subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    import site

    (purelib / "zz_project_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert (venv / "bin" / "hipvision-gui").is_file()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", HIPVISION_DATA_DIR=str(tmp_path / "data"),
               HIPVISION_CONFIG_DIR=str(tmp_path / "config"), OMP_NUM_THREADS="1",
               HF_HUB_OFFLINE="1", HIPVISION_OFFLINE="1")
    cwd = tmp_path  # not the checkout, whose hipvision/ would shadow the wheel's

    where = subprocess.run([str(vpy), "-c", "import hipvision, hipvision.core.resources as r; "
                            "print(hipvision.__file__); print(r.resources_dir())"],
                           capture_output=True, text=True, cwd=cwd, env=env, check=True).stdout.split("\n")
    assert Path(where[0]).is_relative_to(purelib), f"hipvision imported from {where[0]}, not the wheel"
    installed_res = Path(where[1])
    assert installed_res == purelib / "hipvision" / "_resources"

    r = subprocess.run([str(venv / "bin" / "hipvision"), "--version"], capture_output=True, text=True,
                       cwd=cwd, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"hipvision {hipvision.__version__}", r.stdout + r.stderr

    before = sorted((p.relative_to(installed_res).as_posix(), p.stat().st_size)
                    for p in installed_res.rglob("*") if p.is_file())
    shot = tmp_path / "demo.png"
    r = subprocess.run([str(venv / "bin" / "hipvision"), "demo", "--screenshot", str(shot)],
                       capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert r.returncode == 0, f"hipvision demo failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    img = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert img.shape[0] >= 200 and img.shape[1] >= 300, img.shape
    assert img.std() > 5, "screenshot is blank"
    # The demo works on a writable copy of the sample project; the installed one is untouched.
    after = sorted((p.relative_to(installed_res).as_posix(), p.stat().st_size)
                   for p in installed_res.rglob("*") if p.is_file())
    assert after == before, "hipvision demo wrote into the installed package"
    samples = {p.name for p in (installed_res / "samples").iterdir() if p.suffix in (".png", ".dcm")}
    copied = {p.name for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert samples and samples <= copied, f"demo did not copy the samples to HIPVISION_DATA_DIR: {samples - copied}"


@pytest.mark.slow
@posix_only
@pytest.mark.skipif(not BUNDLE_EXE.is_file(), reason="no bundle in dist/hipvision (run packaging/build)")
def test_bundle_runs_offscreen(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HIPVISION_DATA_DIR": str(tmp_path / "data"),
           "HIPVISION_CONFIG_DIR": str(tmp_path / "config")}
    r = subprocess.run([str(BUNDLE_EXE), "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"hipvision {hipvision.__version__}", r.stdout + r.stderr
    samples = BUNDLE_EXE.parent / "_internal" / "hipvision" / "_resources" / "samples"
    project = tmp_path / "project"
    shutil.copytree(samples, project)
    shot = tmp_path / "gui.png"
    r = subprocess.run([str(BUNDLE_EXE), "gui", str(project), "--screenshot", str(shot)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert np.asarray(Image.open(shot).convert("L"), dtype=np.float32).std() > 5


# ----------------------------------------------------------------------- bundle sources


def test_build_scripts_parse():
    for script in (PKG / "build", PKG / "linux" / "install.sh"):
        assert os.access(script, os.X_OK), f"{script} is not executable"
        if shutil.which("bash"):
            r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
    for py in ("hipvision.spec", "run_hipvision.py", "run_hipvision_gui.py", "rthook_cpu.py", "render_icons.py"):
        compile((PKG / py).read_text(), str(PKG / py), "exec")
    spec = (PKG / "hipvision.spec").read_text()
    # The entry scripts' names are how the spec gives each executable its own script.
    assert '!= "run_hipvision_gui"' in spec and '!= "run_hipvision"' in spec


def test_spec_bundles_resources_where_resources_py_looks():
    spec = (PKG / "hipvision.spec").read_text()
    assert '"hipvision/_resources"' in spec
    src = (ROOT / "hipvision" / "core" / "resources.py").read_text()
    assert 'Path(frozen) / "hipvision" / "_resources"' in src


# ------------------------------------------------------------------ desktop integration


def _desktop_entry() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keys are case-sensitive
    cp.read(PKG / "linux" / "hipvision.desktop", encoding="utf-8")
    return cp["Desktop Entry"]


def test_desktop_file_is_valid():
    e = _desktop_entry()
    assert e["Type"] == "Application" and e["Name"] == "HipVision"
    prog, *args = e["Exec"].split()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["gui-scripts"]
    assert prog in scripts, f"Exec runs {prog}, which pyproject does not install"
    assert args == ["%f"], "Exec must pass the one file opened ('Open with HipVision')"
    assert e["Icon"] == "hipvision" and e["Terminal"] == "false"
    assert "application/dicom" in e["MimeType"].split(";")
    assert e["Categories"].endswith(";") and "MedicalSoftware" in e["Categories"]
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(PKG / "linux" / "hipvision.desktop")],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "error" not in r.stdout, r.stdout + r.stderr


def _mime_rule():
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    root = ET.parse(PKG / "linux" / "hipvision-dicom.xml").getroot()
    t = root.find("m:mime-type", ns)
    assert t.get("type") == "application/dicom"
    match = t.find("m:magic/m:match", ns)
    globs = [g.get("pattern") for g in t.findall("m:glob", ns)]
    return match, globs


def test_mime_rule_recognises_a_real_dicom_file(tmp_path):
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    match, globs = _mime_rule()
    assert "*.dcm" in globs
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "x.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.PatientName = "Rex"
    pydicom.dcmwrite(tmp_path / "x.dcm", ds, enforce_file_format=True)

    def matches(path: Path) -> bool:
        off, value = int(match.get("offset")), match.get("value").encode()
        return match.get("type") == "string" and path.read_bytes()[off:off + len(value)] == value

    assert matches(tmp_path / "x.dcm")
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    assert not matches(tmp_path / "x.png")


@posix_only
def test_install_script_puts_files_where_desktops_look(tmp_path):
    gui = shutil.which("hipvision-gui", path=str(Path(sys.executable).parent))
    if gui is None:
        pytest.skip("hipvision-gui is not installed beside this Python (pip install -e .)")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PATH": str(Path(gui).parent) + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run([str(PKG / "linux" / "install.sh"), "--default"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    share = tmp_path / "share"
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(share / "applications" / "hipvision.desktop")
    exec_line = cp["Desktop Entry"]["Exec"]
    assert exec_line == f"{Path(gui).parent.resolve() / 'hipvision-gui'} %f"
    assert (share / "mime" / "packages" / "hipvision-dicom.xml").is_file()
    for n in ICON_SIZES:
        p = share / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "hipvision.png"
        assert Image.open(p).size == (n, n)
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "hipvision.svg").is_file()
    assert "application/dicom=hipvision.desktop;" in (tmp_path / "config" / "mimeapps.list").read_text()
    if shutil.which("update-mime-database"):
        assert "application/dicom:*.dcm" in (share / "mime" / "globs2").read_text()

    r = subprocess.run([str(PKG / "linux" / "install.sh"), "--uninstall"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert not (share / "applications" / "hipvision.desktop").exists()
    assert not list((share / "icons").rglob("hipvision.*"))


# ----------------------------------------------------------------------------- icons


@pytest.mark.parametrize("n", ICON_SIZES)
def test_icon_png_at_each_size(n):
    im = Image.open(ICONS / f"hipvision-{n}.png")
    assert im.size == (n, n) and im.mode == "RGBA"
    a = np.asarray(im, dtype=np.float32)
    assert a[..., 3].max() == 255 and a[..., :3].std() > 10, "icon is blank"


def test_icon_ico_and_svg_sources():
    ico = Image.open(ICONS / "hipvision.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    for name in ("hipvision.svg", "hipvision-small.svg"):
        root = ET.parse(ICONS / name).getroot()
        assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 512 512"


def test_icon_pngs_are_renders_of_the_svg(qapp):
    """The PNGs are generated, so they must not drift from their SVG source."""
    spec = importlib.util.spec_from_file_location("render_icons", PKG / "render_icons.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for n in (16, 64):
        image = mod.render(mod.source_for(n), n)
        tmp = np.asarray(Image.open(ICONS / f"hipvision-{n}.png").convert("RGBA"), dtype=np.float32)
        ptr = image.convertToFormat(image.Format.Format_RGBA8888)
        fresh = np.frombuffer(ptr.constBits(), np.uint8).reshape(n, ptr.bytesPerLine() // 4, 4)[:, :n]
        diff = np.abs(fresh.astype(np.float32) - tmp).mean()
        assert diff < 2.0, f"hipvision-{n}.png differs from its SVG (mean {diff:.1f}); run packaging/render_icons.py"
