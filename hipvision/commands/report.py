"""`hipvision report PROJECT [--images ...] --out FILE.pdf`: the PDF report."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("report", help="write a PDF report (one page per image: annotated image, NA table)",
                       description="One A4 page per image with the file and patient facts (DICOM), the annotated "
                                   "radiograph, each hip's Norberg angle, grade hint and BVA-style points.")
    p.add_argument("project")
    p.add_argument("--images", nargs="+", metavar="IMAGE", help="images (paths or file names); default: all "
                   "annotated images")
    p.add_argument("--out", required=True, help="output .pdf")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from hipvision.cli import CommandError
    from hipvision.commands.render import find_image
    from hipvision.core.store import Project

    if Path(args.out).suffix.lower() != ".pdf":
        raise CommandError(f"--out must end in .pdf, got {args.out}")
    with Project.open(args.project, create=False) as project:
        if args.images:
            ids = [find_image(project, name).id for name in args.images]
        else:
            ids = [r.id for r in project.images() if not r.error and project.current_landmarks(r.id) is not None]
        if not ids:
            raise CommandError(f"{project.root}: no annotated images to report")
        from hipvision.core.settings import load_settings_or_default
        from hipvision.gui.report_pdf import write_report

        settings, _ = load_settings_or_default()
        out = write_report(project, ids, args.out, thresholds=settings.thresholds)
    print(f"wrote {out} ({len(ids)} pages)")
    return 0
