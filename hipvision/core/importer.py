"""Import a folder of radiographs (and any label file beside them) into a project.

One odd file (an unreadable image, a name that is not UTF-8, a symlink out of the folder, a
bad label entry) is reported with its name and reason; it never stops the rest of the import.
A failure of the project itself (its database read-only, the disk full) does stop it: the
import of the project folder is then left marked unfinished, and `unfinished_import` tells
the next opener to run it again (an import is idempotent: a re-run adds what is missing).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from hipvision.core.interchange import LabelFile, LabelProblem, coordinate_limit, load_coco, load_csv
from hipvision.core.landmarks import SideMapping
from hipvision.core.locations import DATA_DIRNAME
from hipvision.core.records import ImportReport, StoreError
from hipvision.core.store import Project, ProjectWriteError

# Label files picked up from the imported folder, in order of preference.
LABEL_FILES = ("annotations.json", "truth.csv", "labels.csv")
# Project setting present while an import of the project folder runs: {"labels": bool}. Left
# behind by a killed, cancelled or failed import; cleared when one runs to the end.
PENDING_IMPORT = "import.pending"


class _Skipped(Exception):
    """A file left out on purpose (not recorded in the project), with the reason."""


def find_images(folder: Path) -> list[Path]:
    from hipvision.core.radiograph import is_radiograph_file

    out = []
    for p in sorted(folder.rglob("*")):
        if DATA_DIRNAME in p.relative_to(folder).parts or p.name.startswith("."):
            continue
        if p.is_file() and is_radiograph_file(p):
            out.append(p)
    return out


def display_name(path: Path, folder: Path) -> str:
    """The path relative to `folder`, printable even when the name is not valid UTF-8."""
    rel = os.fsdecode(path)[len(os.fsdecode(folder)):].lstrip(os.sep) if path.is_relative_to(folder) else str(path)
    return os.fsencode(rel).decode("utf-8", "backslashreplace")  # the raw bytes, as \xff


def read_labels(path: Path) -> LabelFile:
    return load_coco(path) if path.suffix.lower() == ".json" else load_csv(path)


def import_folder(project: Project, folder: str | Path | None = None, *, labels: bool = True,
                  mapping: SideMapping | None = None, progress=None, cancel=None) -> ImportReport:
    """Register every radiograph under `folder` (default: the project root).

    Unreadable files are recorded with their reason (status 'error') so the app can list them;
    files that cannot be recorded at all (a non-UTF-8 name, a symlink leaving the folder) are
    only reported. A file whose content changed keeps its split. `mapping` is the side
    convention given to images new to the project (the preferences' default); known images keep
    theirs. Labels from annotations.json / truth.csv are appended as revisions by
    'import:<file>' unless the image already has a person's labels; each entry left out is in
    `report.label_problems`.
    """
    folder = Path(folder).resolve() if folder else project.root
    # Only the project folder's own import is resumed: that is what opening a project runs.
    whole = folder == project.root
    if whole:
        project.set_setting(PENDING_IMPORT, {"labels": bool(labels)})
    report = ImportReport()
    files = find_images(folder)
    for i, path in enumerate(files):
        if cancel is not None and cancel.is_set():
            return report  # unfinished: still pending
        name = display_name(path, folder)
        try:
            _import_one(project, folder, path, mapping, report)
        except _Skipped as exc:
            report.errors.append((name, str(exc)))
        if progress is not None:
            progress(i + 1, len(files), name)
    if labels:
        for label_name in LABEL_FILES:
            label_path = folder / label_name
            if label_path.is_file():
                n, problems = _import_labels(project, folder, label_path)
                report = replace(report, labels_imported=n, labels_file=label_name, label_problems=problems)
                break
    if whole:
        project.set_setting(PENDING_IMPORT, None)
    return report


def unfinished_import(project: Project) -> dict | None:
    """The options ({"labels": bool}) of an import of the project folder that started and
    never finished, or None. A project without the setting (made before it existed) counts
    as finished."""
    pending = project.get_setting(PENDING_IMPORT)
    return pending if isinstance(pending, dict) else None


def refusal(folder: Path, path: Path) -> str | None:
    """Why `path` is never taken into the project of `folder`, whatever its content, or None."""
    try:
        os.fsdecode(path).encode("utf-8")
    except UnicodeEncodeError:
        # The project stores paths as UTF-8 text; such a name cannot be stored or shown as is.
        return "the file name is not valid UTF-8; rename the file"
    target = Path(path).resolve()
    if not target.is_relative_to(Path(folder).resolve()):
        return f"a symlink to {target}, outside the imported folder; not followed"
    return None


def _import_one(project: Project, folder: Path, path: Path, mapping: SideMapping | None,
                report: ImportReport) -> None:
    from hipvision.core.radiograph import RadiographError, read_header, sha256_file

    why = refusal(folder, path)
    if why is not None:
        raise _Skipped(why)
    try:
        rel = project.rel_path(path)
        existing = project.image_by_path(rel)
    except StoreError as exc:
        raise _Skipped(str(exc)) from None
    try:
        digest = sha256_file(path)
        if existing is not None and existing.sha256 == digest and existing.error is None:
            report.unchanged.append(rel)
            return
        header = read_header(path)
        project.add_image(path, header=header, sha256=digest, mapping=mapping)
        (report.updated if existing else report.added).append(rel)
    except (RadiographError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        project.add_image(path, error=reason)
        report.errors.append((rel, reason))


def _import_labels(project: Project, folder: Path, label_path: Path) -> tuple[int, list[LabelProblem]]:
    read = read_labels(label_path)
    problems = list(read.problems)
    n = 0
    for item in read.items:
        if item.landmarks is None:
            continue
        try:
            n += _import_item(project, folder, label_path, item)
        except ProjectWriteError:
            raise  # a full disk or a read-only project is no fault of this label: stop, say why
        except (StoreError, ValueError, OSError) as exc:
            # A name with a NUL byte or one leading out of the project: this entry only.
            problems.append(LabelProblem(str(label_path), item.image[:200], str(exc)))
    return n, problems


def _import_item(project: Project, folder: Path, label_path: Path, item) -> int:
    rec = project.image_by_path(project.rel_path(folder / item.image))
    if rec is None or rec.error:
        return 0
    limit = coordinate_limit(rec.width, rec.height)
    lm = item.landmarks
    values = [getattr(s, k) for s in (lm.left, lm.right) for k in ("head_x", "head_y", "head_r", "rim_x", "rim_y")]
    if any(abs(v) > limit for v in values):
        # The CSV knows no image size; the project does.
        raise ValueError(f"coordinates more than 10 image sides away ({rec.width}x{rec.height} px)")
    if rec.spacing is None and item.spacing is not None:
        project.set_spacing(rec.id, item.spacing)
    current = project.current_annotation(rec.id)
    if current is not None and current.landmarks == item.landmarks:
        return 0  # re-import: nothing new
    if rec.status in ("edited", "verified") and current is not None and current.author == "user":
        return 0  # a person's work outranks a file
    project.save_annotation(rec.id, item.landmarks, author=f"import:{label_path.name}",
                            mapping=item.mapping if item.mapping != rec.mapping else None)
    return 1
