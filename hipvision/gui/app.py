"""Starting the workstation: the QApplication, the main window, and --screenshot."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from hipvision.core.atomic import atomic_path


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        apply_dark_theme(app)
    from hipvision.gui import main_thread_gc

    main_thread_gc.install(app)  # cycles holding Qt objects are freed in this thread only
    app.setApplicationName("HipVision")
    app.setOrganizationName("HipVision")
    # Matches packaging/linux/hipvision.desktop, so the desktop groups windows under our icon.
    app.setDesktopFileName("hipvision")
    try:
        from PySide6.QtGui import QIcon

        from hipvision.core.resources import icons_dir

        app.setWindowIcon(QIcon(str(icons_dir() / "hipvision.svg")))
    except FileNotFoundError:
        pass  # an install without icons still starts
    return app


def apply_dark_theme(app: QApplication) -> None:
    """Radiographs are read in dim rooms: a dark, neutral frame keeps the eye on the image
    and does not shift the perceived grey levels the way a white frame does."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2b", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f1f1f", QPalette.ColorRole.AlternateBase: "#262626",
        QPalette.ColorRole.ToolTipBase: "#3a3a3a", QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#333333",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.BrightText: "#ff6e6e",
        QPalette.ColorRole.Highlight: "#2f6fa8", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#64b5f6", QPalette.ColorRole.PlaceholderText: "#8a8a8a",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f6f6f"))
    app.setPalette(p)


def create_window(*, with_engine: bool = True):
    """The main window; `with_engine=False` gives the bare workstation (no background
    predictions), which the workstation's own tests use so that no model races their edits."""
    import pyqtgraph as pg

    from hipvision.gui.engine_bridge import EngineBridge
    from hipvision.gui.main_window import MainWindow

    pg.setConfigOptions(imageAxisOrder="row-major")
    window = MainWindow()
    window.engine_bridge = EngineBridge(window) if with_engine else None
    return window


PREDICTION_WAIT_S = 120.0  # --screenshot waits this long at most for the shown image's prediction


def save_screenshot(widget, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        if not widget.grab().save(str(tmp), "PNG"):
            raise OSError(f"{path}: could not write the screenshot")
    return path


def select_image(win, name: str) -> bool:
    """Show the image whose file name (or project-relative path) is `name`."""
    for rec in win.project.images() if win.project else []:
        if name in (rec.name, rec.path):
            win.image_list.select_id(rec.id)
            return True
    return False


def missing_image_text(win, name: str) -> str:
    """Why the image asked for is not in the open project: a file the import refuses (a name
    that is not UTF-8, a symlink out of the folder) says so; anything else is not there."""
    from hipvision.core.importer import refusal
    from hipvision.gui.open_messages import printable_path

    shown = printable_path(name)
    if win.project is not None and os.path.lexists(win.project.root / name):
        why = refusal(win.project.root, win.project.root / name)
        if why is not None:
            return f"{shown}: not in the project: {why}"
    return f"no image named {shown!r} in the project"


def run(folder: str | Path | None = None, *, screenshot: str | Path | None = None, image: str | None = None,
        size: tuple[int, int] = (1440, 900), view: str = "fit") -> int:
    """Open the window (and `folder`); with `screenshot`, save the window as PNG once it is
    shown and laid out, then exit. Returns the exit status."""
    if screenshot and QApplication.instance() is None:
        # A scripted screenshot (docs, CI) needs no screen; an explicit platform still wins.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = application()
    win = create_window()
    try:
        return _show(app, win, folder, screenshot=screenshot, image=image, size=size, view=view)
    finally:
        # On every way out (an early return, an exception): a QThread still running when
        # Python lets go of it aborts the process ("QThread: Destroyed while thread ... is
        # still running"). Closing the window already did this; twice is harmless.
        stop_engine(win)


def stop_engine(win) -> None:
    bridge = getattr(win, "engine_bridge", None)
    engine = getattr(bridge, "engine", None)
    if engine is not None:
        engine.shutdown()


def _show(app, win, folder, *, screenshot, image, size, view) -> int:
    if folder is not None and not win.open_project(folder):
        print(f"hipvision gui: {win.banner_message}", file=sys.stderr)
        if screenshot:
            return 2
    missing = None
    if image is not None and not select_image(win, image):
        missing = missing_image_text(win, image)
        print(f"hipvision gui: {missing}", file=sys.stderr)
        win.show_banner(missing)  # the folder is open: the vet sees why that file is not in it
    if view == "hips":
        win.zoom_hips()
    if screenshot:
        win.remember_geometry = False  # a scripted screenshot must not change the user's layout
        win.resize(*size)
    win.show()
    if not screenshot:
        return app.exec()
    result = {"rc": 0}

    def shoot():
        try:
            print(f"wrote {save_screenshot(win, screenshot)}")
        except OSError as exc:
            print(f"hipvision gui: {exc}", file=sys.stderr)
            result["rc"] = 2
        finally:
            try:
                win.close()
            finally:
                loop.quit()  # whatever closing did: a scripted screenshot never hangs
        if win.close_problem or missing:  # already said: only the exit status repeats it
            result["rc"] = 2

    # A local loop, not app.exec()/app.quit(): quitting the application would leave it
    # in a quitting state for whoever runs events next (a test session, an embedding app).
    loop = QEventLoop()
    deadline = time.monotonic() + PREDICTION_WAIT_S

    def when_predicted():
        # The shown image's first prediction belongs in the picture: wait for it (bounded,
        # so a slow or failing model never hangs a scripted screenshot).
        bridge = getattr(win, "engine_bridge", None)
        waiting = bridge is not None and win.current_image_id in bridge.pending_predictions
        if waiting and time.monotonic() < deadline:
            QTimer.singleShot(100, when_predicted)
        else:
            # After the first layout pass and paint: the docks and the canvas need their sizes.
            QTimer.singleShot(300, shoot)

    QTimer.singleShot(0, when_predicted)
    loop.exec()
    return result["rc"]
