"""Import a folder of radiographs (and any label file beside them) into a project."""

from __future__ import annotations

from pathlib import Path

from hipvision.core.interchange import InterchangeError, read_coco, read_csv
from hipvision.core.landmarks import SideMapping
from hipvision.core.locations import DATA_DIRNAME
from hipvision.core.records import ImportReport
from hipvision.core.store import Project

# Label files picked up from the imported folder, in order of preference.
LABEL_FILES = ("annotations.json", "truth.csv", "labels.csv")


def find_images(folder: Path) -> list[Path]:
    from hipvision.core.radiograph import is_radiograph_file

    out = []
    for p in sorted(folder.rglob("*")):
        if DATA_DIRNAME in p.relative_to(folder).parts or p.name.startswith("."):
            continue
        if p.is_file() and is_radiograph_file(p):
            out.append(p)
    return out


def read_labels(path: Path):
    return read_coco(path) if path.suffix.lower() == ".json" else read_csv(path)


def import_folder(project: Project, folder: str | Path | None = None, *, labels: bool = True,
                  mapping: SideMapping | None = None, progress=None, cancel=None) -> ImportReport:
    """Register every radiograph under `folder` (default: the project root).

    Unreadable files are recorded with their reason (status 'error') so the app can list them;
    a file whose content changed keeps its split. `mapping` is the side convention given to
    images new to the project (the preferences' default); known images keep theirs. Labels from
    annotations.json / truth.csv are appended as revisions by 'import:<file>' unless the image
    already has a person's labels.
    """
    from hipvision.core.radiograph import RadiographError, read_header, sha256_file

    folder = Path(folder).resolve() if folder else project.root
    report = ImportReport()
    files = find_images(folder)
    for i, path in enumerate(files):
        if cancel is not None and cancel.is_set():
            break
        rel = project.rel_path(path)
        existing = project.image_by_path(rel)
        try:
            digest = sha256_file(path)
            if existing is not None and existing.sha256 == digest and existing.error is None:
                report.unchanged.append(rel)
                continue
            header = read_header(path)
            project.add_image(path, header=header, sha256=digest, mapping=mapping)
            (report.updated if existing else report.added).append(rel)
        except (RadiographError, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            project.add_image(path, error=reason)
            report.errors.append((rel, reason))
        if progress is not None:
            progress(i + 1, len(files), rel)
    if labels:
        for name in LABEL_FILES:
            label_path = folder / name
            if label_path.is_file():
                n = _import_labels(project, folder, label_path)
                report = ImportReport(report.added, report.updated, report.unchanged, report.errors, n, name)
                break
    return report


def _import_labels(project: Project, folder: Path, label_path: Path) -> int:
    try:
        items = read_labels(label_path)
    except InterchangeError:
        raise
    n = 0
    for item in items:
        if item.landmarks is None:
            continue
        rec = project.image_by_path(project.rel_path(folder / item.image))
        if rec is None or rec.error:
            continue
        if rec.spacing is None and item.spacing is not None:
            project.set_spacing(rec.id, item.spacing)
        current = project.current_annotation(rec.id)
        if current is not None and current.landmarks == item.landmarks:
            continue  # re-import: nothing new
        if rec.status in ("edited", "verified") and current is not None and current.author == "user":
            continue  # a person's work outranks a file
        project.save_annotation(rec.id, item.landmarks, author=f"import:{label_path.name}",
                                mapping=item.mapping if item.mapping != rec.mapping else None)
        n += 1
    return n
