"""Render the application icon in every size from its SVG sources.

    python packaging/render_icons.py          # writes resources/icons/*.png and hipvision.ico

The SVGs are the sources; the PNG/ICO files are committed because neither the wheel
build nor PyInstaller should need a display or an SVG renderer. Sizes up to SMALL_MAX use
hipvision-small.svg (no faint pelvis, heavier strokes), the rest hipvision.svg.
Qt's SVG renderer (QtSvg ships with PySide6-Essentials) draws them offscreen.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SMALL_MAX = 32
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # the ICO format stops at 256


def source_for(size: int) -> Path:
    return ICONS / ("hipvision-small.svg" if size <= SMALL_MAX else "hipvision.svg")


def render(svg: Path, size: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG for Qt's renderer")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ICONS, help="output folder (default: resources/icons)")
    args = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts/paint need it)
    args.out.mkdir(parents=True, exist_ok=True)
    pngs = {}
    for size in SIZES:
        path = args.out / f"hipvision-{size}.png"
        tmp = path.with_name(f".{path.name}.tmp")
        if not render(source_for(size), size).save(str(tmp), "PNG"):
            raise SystemExit(f"could not write {tmp}")
        os.replace(tmp, path)
        pngs[size] = path
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    # Windows wants an .ico for the executable; build it from the exact PNG of every size, not
    # from one downscaled image. (macOS: PyInstaller turns hipvision-512.png into an .icns.)
    ico = args.out / "hipvision.ico"
    imgs = [Image.open(pngs[s]).convert("RGBA") for s in ICO_SIZES]
    imgs[-1].save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=imgs[:-1])
    print(f"wrote {ico.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
