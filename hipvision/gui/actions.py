"""The window's actions, menus and toolbar, with their shortcuts in one table.

The shortcut sheet (F1) is generated from the same table, so it cannot drift from what the
keys actually do.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QMainWindow, QMenu, QToolBar

from hipvision.core.window_level import DEFAULT_PRESET, PRESETS


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcuts: tuple[str, ...] = ()
    slot: str = ""  # method of the main window
    tip: str = ""
    checkable: bool = False
    short: str = ""  # toolbar text


# (menu, specs). Order is menu order; None is a separator.
SPECS: tuple[tuple[str, tuple[ActionSpec | None, ...]], ...] = (
    ("&File", (
        ActionSpec("open", "&Open folder…", ("Ctrl+O",), "choose_project", "Open a folder of radiographs",
                   short="Open"),
        ActionSpec("demo", "Open the &demo project", (), "open_demo", "A writable copy of the bundled samples"),
        ActionSpec("open_pacs", "Open from PAC&S…", (), "open_from_pacs",
                   "Search the clinic's PACS and retrieve a study into a project folder"),
        ActionSpec("rescan", "&Rescan folder", ("Ctrl+Shift+R",), "rescan", "Add new or changed files"),
        None,
        ActionSpec("export_csv", "Export &CSV…", (), "choose_export_csv"),
        ActionSpec("export_coco", "Export C&OCO keypoints…", (), "choose_export_coco"),
        ActionSpec("render", "Save annotated &image…", ("Ctrl+Shift+E",), "choose_render"),
        ActionSpec("report", "PDF &report for this image…", ("Ctrl+P",), "choose_report_current", short="PDF report"),
        ActionSpec("report_selected", "PDF report for &selected images…", ("Ctrl+Shift+P",), "choose_report_selected"),
        ActionSpec("send_pacs", "Send reports to PACS…", (), "send_to_pacs",
                   "Send the reviewed images' measurements (SR) back to the PACS"),
        None,
        ActionSpec("quit", "&Quit", ("Ctrl+Q",), "close"),
    )),
    ("&Edit", (
        ActionSpec("verify", "&Verify (accept landmarks)", ("V",), "verify", "Mark this image verified",
                   short="Verify"),
        ActionSpec("circle", "3-point &circle", ("C",), "toggle_circle_mode",
                   "Click three points on a femoral head outline", checkable=True,
                   short="3-point circle"),
        ActionSpec("place", "&Place hips with two clicks", ("P",), "toggle_place_mode",
                   "Click near each femoral head; the model refines centre, radius and rim from there",
                   checkable=True, short="Place hips"),
        ActionSpec("refine", "R&efine around the heads", ("R",), "refine_around_heads",
                   "Refit radius and rim around where the heads are now (after dragging a head far)"),
        ActionSpec("swap", "&Swap left/right", ("Shift+S",), "swap_sides", "The patient sides are the other way round"),
        ActionSpec("reset", "Reset to &prediction", ("Ctrl+R",), "reset_to_prediction"),
        ActionSpec("delete", "&Delete landmarks", ("Del",), "delete_annotation"),
        None,
        ActionSpec("preferences", "Pre&ferences…", ("Ctrl+,",), "show_preferences",
                   "Grade thresholds, side convention, device, Stable Diffusion folder, synthetic-image mix"),
        None,
        ActionSpec("next", "&Next image", ("PgDown", "D"), "next_image", "Next image", short="Next ▶"),
        ActionSpec("prev", "P&revious image", ("PgUp", "A"), "previous_image", "Previous image", short="◀ Prev"),
    )),
    ("&View", (
        ActionSpec("fit", "&Fit to window", ("F",), "fit_view", "Show the whole image", short="Fit"),
        ActionSpec("hips", "Zoom to &hips", ("H",), "zoom_hips", "Show both hips (kept for the next images)",
                   short="Hips"),
        ActionSpec("zoom_in", "Zoom &in", ("+", "="), "zoom_in"),
        ActionSpec("zoom_out", "Zoom &out", ("-",), "zoom_out"),
        ActionSpec("actual", "&Actual pixels (1:1)", ("1",), "zoom_actual"),
        None,
        ActionSpec("invert", "&Invert", ("I",), "toggle_invert", checkable=True),
        ActionSpec("auto_window", "&Default window/level", ("W",), "default_window"),
    )),
    ("&Model", (
        ActionSpec("predict", "&Predict landmarks for this image", ("Ctrl+Shift+L",), "request_prediction"),
    )),
    ("&Help", (
        ActionSpec("shortcuts", "&Keyboard shortcuts", ("F1",), "show_shortcuts"),
        ActionSpec("about", "&About HipVision", (), "show_about"),
    )),
)

# Mouse and canvas keys that are not menu actions, for the shortcut sheet.
EXTRA_KEYS = (
    ("Drag a handle", "Move a landmark (head centre, radius point, rim)"),
    ("Click a handle, then ← ↑ → ↓", "Nudge the landmark 1 px (Shift: 10 px)"),
    ("Tab", "Select the next landmark"),
    ("Esc", "Deselect / leave 3-point or place-hips mode"),
    ("Left drag on the image", "Pan"),
    ("Wheel", "Zoom"),
    ("Right drag", "Window/level (horizontal: width, vertical: centre)"),
)

TOOLBAR = ("open", None, "prev", "next", None, "undo", "redo", "verify", "place", "circle", None, "fit", "hips",
           "invert", "wl", None, "report")


def build_actions(win: QMainWindow) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    bar = win.menuBar()
    for title, specs in SPECS:
        menu: QMenu = bar.addMenu(title)
        menu.setObjectName(title.replace("&", "").lower() + "_menu")
        if title == "&Edit":
            undo = win.workspace_undo_group.createUndoAction(win, "&Undo")
            undo.setShortcut(QKeySequence.StandardKey.Undo)
            redo = win.workspace_undo_group.createRedoAction(win, "&Redo")
            keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
            for extra in ("Ctrl+Shift+Z", "Ctrl+Y"):  # both conventions, whatever the platform's
                if QKeySequence(extra) not in keys:
                    keys.append(QKeySequence(extra))
            redo.setShortcuts(keys)
            menu.addAction(undo)
            menu.addAction(redo)
            menu.addSeparator()
            actions["undo"], actions["redo"] = undo, redo
        if title == "&File":
            win.recent_menu = QMenu("Recent projects", win)
        for spec in specs:
            if spec is None:
                menu.addSeparator()
                continue
            a = QAction(spec.text, win)
            a.setObjectName(spec.name)
            if spec.shortcuts:
                a.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.tip:
                a.setStatusTip(spec.tip)
                a.setToolTip(f"{spec.tip} ({spec.shortcuts[0]})" if spec.shortcuts else spec.tip)
            if spec.short:
                a.setIconText(spec.short)
            a.setCheckable(spec.checkable)
            if spec.checkable:
                a.toggled.connect(getattr(win, spec.slot))
            else:
                a.triggered.connect(lambda checked=False, s=spec.slot: getattr(win, s)())
            menu.addAction(a)
            actions[spec.name] = a
            if spec.name == "demo":
                menu.addMenu(win.recent_menu)
        if title == "&View":
            presets = menu.addMenu("Window/level &presets")
            for name in PRESETS:
                a = presets.addAction(name)
                a.triggered.connect(lambda checked=False, n=name: win.apply_window_preset(n))
    tb = QToolBar("Main", win)
    tb.setObjectName("main_toolbar")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    win.addToolBar(tb)
    for name in TOOLBAR:
        if name is None:
            tb.addSeparator()
        elif name == "wl":
            combo = QComboBox()
            combo.setObjectName("wl_presets")
            combo.addItems(list(PRESETS))
            combo.setCurrentText(DEFAULT_PRESET)
            combo.setToolTip("Window/level preset (right-drag on the image adjusts it)")
            combo.textActivated.connect(win.apply_window_preset)
            tb.addWidget(combo)
            win.wl_combo = combo
        else:
            tb.addAction(actions[name])
    return actions


def shortcut_rows() -> list[tuple[str, str]]:
    rows = []
    for _title, specs in SPECS:
        for spec in specs:
            if spec is not None and spec.shortcuts:
                rows.append((" / ".join(spec.shortcuts), spec.text.replace("&", "").rstrip("…")))
    return rows + list(EXTRA_KEYS)
