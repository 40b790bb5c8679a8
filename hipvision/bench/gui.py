"""`hipvision bench gui`: how fast the workstation starts, follows a drag and changes image.

Figures, all from one run (medians; the machines are noisy):
- launch: a fresh `python` process to the window's first paint, with a 4,300 x 4,300
  16-bit radiograph shown; the child reports whether torch got imported (it must not);
- drag: each mouse move of a handle drag, from the event entering the view to the readout
  updated (the handler), p50/p95 — goal <= 4 ms p95; plus the repaint that follows;
- switch: showing another 4,300^2 16-bit image, decoded on demand (cold) and read ahead
  while the previous one was shown (warm), including the first repaint.

Qt is imported inside the functions: `hipvision --help` must not load it.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hipvision.bench.timing import percentile

DESCRIPTION = "GUI speed: launch to window shown, drag-event to readout, image switch on a 4,300^2 16-bit image"


def add_arguments(p) -> None:
    p.add_argument("--size", type=int, default=4300, help="side of the test radiographs in px (default 4300)")
    p.add_argument("--launches", type=int, default=3, help="subprocess launches to time (default 3)")
    p.add_argument("--moves", type=int, default=80, help="mouse moves in the timed drag (default 80)")
    p.add_argument("--switches", type=int, default=4, help="image switches of each kind (default 4)")
    p.add_argument("--keep", metavar="DIR", help="build the test project here and keep it")
    p.add_argument("--retrain-images", type=int, default=200,
                   help="also time a one-click retrain on this many phantom images and the event-loop stall "
                        "while it trains (hipvision bench engine; 0 skips it; default 200)")
    p.add_argument("--retrain-epochs", type=int, default=2, help="epochs of that retrain (default 2)")


def _ms(values) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):7.2f} ms  p95 {percentile(ms, 95):7.2f} ms  max {max(ms):7.2f} ms (n={len(ms)})"


def make_project(folder: Path, size: int) -> Path:
    """Three size x size 16-bit phantoms (one rendered, two altered copies) with labels."""
    import cv2
    import numpy as np

    from hipvision.core.importer import import_folder
    from hipvision.core.interchange import AnnotatedImage, write_coco
    from hipvision.core.store import Project
    from hipvision.phantom import PhantomConfig, render_phantom

    folder.mkdir(parents=True, exist_ok=True)
    case = render_phantom(7, PhantomConfig(size=size, bit_depth=16))
    # Phantoms are portrait; pad right/bottom to exactly size x size (landmarks unchanged).
    base = np.pad(case.pixels, ((0, size - case.pixels.shape[0]), (0, size - case.pixels.shape[1])), mode="edge")
    h, w = base.shape
    items = []
    for i in range(3):
        px = base.copy()
        px[:8, :8] = i  # different files (hash), same anatomy and landmarks
        name = f"big_{i}.png"
        if not cv2.imwrite(str(folder / name), px, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
            raise OSError(f"{folder / name}: could not write")
        items.append(AnnotatedImage(name, case.landmarks, w, h, case.spacing, case.mapping))
    write_coco(folder / "annotations.json", items)
    with Project.open(folder) as project:
        import_folder(project)
    return folder


# ---------------------------------------------------------------- launch (child process)

_PROBE = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject
from hipvision.gui.app import application, create_window
app = application()
win = create_window()
win.remember_geometry = False
win.open_project(sys.argv[1])

class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            print("shown", time.time(), int("torch" in sys.modules), app.platformName(), flush=True)
            app.quit()
        return False

probe = FirstPaint()
win.canvas.viewport().installEventFilter(probe)
win.resize(1440, 900)
win.show()
app.exec()
"""


def time_launches(folder: Path, n: int) -> tuple[list[float], bool, str]:
    env = dict(os.environ, HIPVISION_CONFIG_DIR=str(folder / ".bench-config"))
    times, torch_loaded, platform = [], False, "?"
    for _ in range(n):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", _PROBE, str(folder)], capture_output=True, text=True, env=env,
                             timeout=300)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("shown")), None)
        if line is None:
            raise RuntimeError(f"the GUI probe did not show a window:\n{out.stderr[-2000:]}")
        _, t_shown, torch_flag, platform = line.split()
        times.append(float(t_shown) - t0)
        torch_loaded |= torch_flag == "1"
    return times, torch_loaded, platform


# ---------------------------------------------------------------- in-process figures

def _wait_idle(app, ms: int) -> None:
    """Let queued events (layout, paints) run before timing: the event loop for `ms`."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def time_drag(win, app, moves: int) -> tuple[list[float], list[float], list[float]]:
    """(event dispatch incl. handler, handler alone, repaint) seconds per move."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from hipvision.annotation.landmark_edit import HandleKey, handle_position
    from hipvision.core.landmarks import Side

    canvas = win.canvas
    canvas.zoom_to_hips()
    _wait_idle(app, 300)
    key = HandleKey(Side.RIGHT, "rim")
    handler_times: list[float] = []
    original = canvas._on_handle_moved

    def timed(k, x, y):
        t = time.perf_counter()
        original(k, x, y)
        handler_times.append(time.perf_counter() - t)

    for h in canvas.handles.values():  # the handles' signal goes to the timed wrapper
        h.moved.disconnect(original)
        h.moved.connect(timed)
    vp = canvas.viewport()
    start = canvas.image_to_viewport(*handle_position(canvas.landmarks, key))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    dispatch, repaint = [], []
    for i in range(1, moves + 1):
        time.sleep(0.011)  # pyqtgraph ignores moves closer than 10 ms (mouseRateLimit)
        p = start + QPoint(round(25 * math.sin(i / 6)) + 12, round(-15 * math.cos(i / 7)) + 12)
        t = time.perf_counter()
        QTest.mouseMove(vp, p)
        dispatch.append(time.perf_counter() - t)
        t = time.perf_counter()
        vp.repaint()
        repaint.append(time.perf_counter() - t)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    for h in canvas.handles.values():
        h.moved.disconnect(timed)
        h.moved.connect(original)
    return dispatch, handler_times, repaint


def time_switches(win, app, n: int) -> tuple[list[float], list[float], list[float]]:
    """(cold switch, warm switch, decode only) seconds."""
    from hipvision.core.radiograph import load_radiograph

    ids = win.image_list.visible_ids()
    recs = {i: win.project.image(i) for i in ids}
    cold, warm, decode = [], [], []
    def quiet():
        deadline = time.time() + 120
        while not win.cache.idle() and time.time() < deadline:
            time.sleep(0.02)

    for _ in range(n):
        target = ids[(ids.index(win.current_image_id) + 1) % len(ids)]
        quiet()
        win.cache.clear()
        t = time.perf_counter()
        win.image_list.select_id(target)
        win.canvas.viewport().repaint()
        cold.append(time.perf_counter() - t)
        # The neighbours are read ahead on their own thread while the user reads this one.
        nxt = win.image_list.neighbour(1) or win.image_list.neighbour(-1)
        quiet()
        assert win.cache.cached(recs[nxt].abs_path), "the neighbour was not read ahead"
        t = time.perf_counter()
        win.image_list.select_id(nxt)
        win.canvas.viewport().repaint()
        warm.append(time.perf_counter() - t)
        quiet()
        t = time.perf_counter()
        load_radiograph(recs[nxt].abs_path)
        decode.append(time.perf_counter() - t)
    return cold, warm, decode


def run(args) -> int:
    from hipvision.cli import CommandError

    if args.size < 256 or args.launches < 1 or args.moves < 5 or args.switches < 1:
        raise CommandError("need --size >= 256, --launches >= 1, --moves >= 5, --switches >= 1")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = None
    if args.keep:
        folder = Path(args.keep)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="hipvision-bench-gui-")
        folder = Path(tmp.name) / "project"
    try:
        t = time.perf_counter()
        make_project(folder, args.size)
        print(f"test project: 3 x {args.size}^2 16-bit PNG phantoms in {folder} ({time.perf_counter() - t:.1f} s)")

        launches, torch_loaded, platform = time_launches(folder, args.launches)
        print(f"launch -> window shown (first paint, {platform}): median {statistics.median(launches):.2f} s "
              f"(min {min(launches):.2f}, n={len(launches)}); torch imported: {'YES' if torch_loaded else 'no'}")

        from hipvision.gui.app import application, create_window

        os.environ["HIPVISION_CONFIG_DIR"] = str(folder / ".bench-config")
        app = application()
        win = create_window()
        win.remember_geometry = False
        win.resize(1440, 900)
        win.show()
        win.open_project(folder)
        _wait_idle(app, 300)
        dispatch, handler, repaint = time_drag(win, app, args.moves)
        print(f"drag move -> readout (handler):          {_ms(handler)}")
        print(f"drag move, whole event dispatch:          {_ms(dispatch)}   goal p95 <= 4 ms")
        print(f"repaint after a move (image + overlay):   {_ms(repaint)}")
        cold, warm, decode = time_switches(win, app, args.switches)
        print(f"image switch {args.size}^2, decoded on demand: {_ms(cold)}")
        print(f"image switch {args.size}^2, read ahead:        {_ms(warm)}")
        print(f"  decode alone (load_radiograph):        {_ms(decode)}")
        win.close()
        ok = not torch_loaded
        if torch_loaded:
            print("FAIL: the GUI imported torch at start-up")
        if args.retrain_images > 0:
            from types import SimpleNamespace

            from hipvision.bench import engine

            engine_args = SimpleNamespace(images=args.retrain_images, size=1024, epochs=args.retrain_epochs,
                                          seed=4242, keep=None)
            ok = engine.run(engine_args) == 0 and ok
        return 0 if ok else 1
    finally:
        if tmp is not None:
            tmp.cleanup()

