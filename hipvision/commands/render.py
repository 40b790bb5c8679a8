"""`hipvision render IMAGE [--project P] --out FILE.png`: the annotated radiograph, offscreen."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib is imported inside the functions, keeping `hipvision --help` fast
    from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("render", help="draw an image with its landmarks and Norberg angles to a PNG",
                       description="Uses the same drawing code as the workstation's canvas. IMAGE is a file in the "
                                   "project (path or file name); the project defaults to the image's folder.")
    p.add_argument("image")
    p.add_argument("--project", help="project folder (default: the folder holding IMAGE)")
    p.add_argument("--out", required=True, help="output .png / .jpg / .tif")
    p.add_argument("--max-side", type=int, default=None, help="shrink so the longer side is at most this (px)")
    p.add_argument("--invert", action="store_true", help="show bone dark")
    p.set_defaults(func=run)


def find_image(project, name: str):
    """An image record by path (absolute or relative to the project) or by file name."""
    from pathlib import Path

    from hipvision.cli import CommandError

    candidates = []
    p = Path(name)
    try:
        rel = project.rel_path(p if p.is_absolute() else Path.cwd() / p)
        candidates.append(rel)
    except Exception:  # outside the project: try it as a project-relative path / name below
        pass
    candidates.append(p.as_posix())
    for rel in candidates:
        rec = project.image_by_path(rel)
        if rec is not None:
            return rec
    by_name = [r for r in project.images() if r.name == p.name]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise CommandError(f"{name}: several images have this name; give its path inside {project.root}")
    raise CommandError(f"{name}: not an image of the project {project.root} (run `hipvision import` first?)")


def project_folder_of(image) -> Path:
    """The nearest folder above `image` that holds a project (the image may be in a subfolder)."""
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.core.locations import has_project

    start = Path(image).resolve().parent
    for folder in (start, *start.parents):
        if has_project(folder):
            return folder
    raise CommandError(f"{image}: no HipVision project in its folder or above; give --project "
                       "(or run `hipvision import FOLDER` first)")


def run(args) -> int:
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.core.store import Project

    if args.max_side is not None and args.max_side < 16:
        raise CommandError(f"--max-side must be at least 16, got {args.max_side}")
    folder = Path(args.project) if args.project else project_folder_of(args.image)
    with Project.open(folder, create=False) as project:
        rec = find_image(project, args.image)
        from hipvision.gui.outputs import render_image_file

        out = render_image_file(project, rec.id, args.out, invert=args.invert, max_side=args.max_side)
    print(f"wrote {out}")
    return 0
