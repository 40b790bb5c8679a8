"""`hipvision demo`: open a writable copy of the bundled sample project."""

from __future__ import annotations

from hipvision.commands.gui import add_window_arguments, parse_size


def register(sub) -> None:
    p = sub.add_parser("demo", help="open the bundled sample project (copied to the user data dir on first run)",
                       description="Copies the bundled phantom radiographs and their labels to the user data dir "
                                   "(HIPVISION_DATA_DIR overrides it) the first time, then opens that copy; your "
                                   "edits there are kept between runs.")
    add_window_arguments(p)
    p.add_argument("--path-only", action="store_true", help="prepare the copy and print its folder; no window")
    p.set_defaults(func=run)


def run(args) -> int:
    from hipvision.cli import CommandError
    from hipvision.core.demo_project import prepare_demo_project

    try:
        folder = prepare_demo_project()
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None
    if args.path_only:
        print(folder)
        return 0
    # Say where the writable copy lives: edits, models and exports of the demo go there.
    print(f"HipVision demo project (a writable copy; your edits are kept here): {folder}", flush=True)
    size = parse_size(args.size)
    from hipvision.gui.app import run as run_gui

    return run_gui(folder, screenshot=args.screenshot, image=args.image, size=size, view=args.view)
