"""`hipvision gui [FOLDER]`: the annotation workstation."""

from __future__ import annotations


def add_window_arguments(p) -> None:
    p.add_argument("--screenshot", metavar="OUT.png", help="save the main window as PNG once loaded, then exit")
    p.add_argument("--image", metavar="NAME", help="show this image (file name or project-relative path) first")
    p.add_argument("--size", default="1440x900", metavar="WxH", help="window size for --screenshot (default 1440x900)")
    p.add_argument("--view", choices=("fit", "hips"), default="fit", help="start with the whole image or both hips")


def parse_size(text: str) -> tuple[int, int]:
    from hipvision.cli import CommandError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size must look like 1440x900, got {text!r}") from None
    if not (320 <= w <= 8000 and 240 <= h <= 8000):
        raise CommandError(f"--size must be between 320x240 and 8000x8000, got {text!r}")
    return w, h


def register(sub) -> None:
    p = sub.add_parser("gui", help="open the annotation workstation",
                       description="View radiographs, correct landmarks and read the Norberg angle live. "
                                   "FOLDER is a folder of radiographs (imported on first open; an import "
                                   "cut short is finished on the next open).")
    p.add_argument("folder", nargs="?", metavar="FOLDER|IMAGE",
                   help="project folder to open; an image file opens its folder and shows that image "
                        "(what the desktop's 'Open with HipVision' passes)")
    add_window_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from hipvision.cli import CommandError

    folder, image = args.folder, args.image
    if folder is not None:
        path = Path(folder)
        if path.is_file():
            folder, image = str(path.parent), image or path.name
        elif not path.is_dir():
            raise CommandError(f"{args.folder}: no such folder or file")
    size = parse_size(args.size)
    from hipvision.gui.app import run as run_gui

    return run_gui(folder, screenshot=args.screenshot, image=image, size=size, view=args.view)
