"""`hipvision export PROJECT --format csv|coco --out FILE`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="export current annotations as flat CSV or COCO keypoints JSON")
    p.add_argument("project")
    p.add_argument("--format", choices=("csv", "coco"), default="csv")
    p.add_argument("--out", required=True)
    p.add_argument("--include-synthetic", action="store_true", help="also export generated images")
    p.set_defaults(func=run)


def run(args) -> int:
    from hipvision.core.exporter import export_project
    from hipvision.core.store import Project

    with Project.open(args.project, create=False) as project:
        path, n = export_project(project, args.out, args.format, include_synthetic=args.include_synthetic)
    print(f"wrote {path} ({n} annotated images)")
    return 0
