"""`hipvision import FOLDER`: create or update the project of a folder of radiographs."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("import", help="create/update the project of a folder of radiographs",
                       description="Register every radiograph under FOLDER in FOLDER/.hipvision/project.sqlite "
                                   "(or the user data dir when FOLDER is read-only). Labels in "
                                   "annotations.json / truth.csv beside the images are imported too.")
    p.add_argument("folder")
    p.add_argument("--no-labels", action="store_true", help="ignore annotations.json / truth.csv")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from hipvision.cli import CommandError
    from hipvision.core.importer import import_folder
    from hipvision.core.store import Project

    with Project.open(args.folder) as project:
        if project.read_only:  # importing writes the project; say so before any work
            raise CommandError(f"cannot import: {project.location.notice}")
        bar = tqdm(unit="img", desc="import", leave=False)

        def progress(done, total, msg):
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            report = import_folder(project, labels=not args.no_labels, progress=progress)
        finally:
            bar.close()  # so that an error is printed on a line of its own
        if project.location.notice:
            print(f"note: {project.location.notice}")
        for rel, reason in report.errors:
            print(f"unreadable: {rel}: {reason}")
        for problem in report.label_problems:
            print(f"label rejected: {problem}")
        counts = project.split_counts()
        splits = ", ".join(f"{s} {sum(counts.get(s, {}).values())}" for s in ("train", "val", "test"))
        print(f"{project.root}: {report.summary()} (splits: {splits})")
    return 0
