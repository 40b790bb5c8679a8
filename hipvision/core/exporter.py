"""Export a project's current annotations to the interchange formats."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hipvision.core.interchange import AnnotatedImage, write_coco, write_csv
from hipvision.core.store import Project


def project_items(project: Project, *, include_synthetic: bool = False, image_ids=None,
                  include_unreviewed: bool = True) -> list[AnnotatedImage]:
    """Every image's current annotation, with its review status and author. Unreviewed model
    predictions are marked (status 'predicted', reviewed 'no'), or left out on request."""
    items = []
    for rec in project.images(source=None if include_synthetic else "real"):
        if rec.error or (image_ids is not None and rec.id not in image_ids):
            continue
        ann = project.current_annotation(rec.id)
        item = AnnotatedImage(
            image=rec.path, landmarks=None if ann is None else ann.landmarks, width=rec.width or 0,
            height=rec.height or 0, spacing=rec.spacing, mapping=rec.mapping, status=rec.status,
            author=None if ann is None else ann.author)
        if item.landmarks is not None and not item.reviewed and not include_unreviewed:
            item = replace(item, landmarks=None)
        items.append(item)
    return items


def export_project(project: Project, out: str | Path, fmt: str, **kw) -> tuple[Path, int]:
    """Write CSV or COCO (with status/reviewed/author per annotation); returns (path, number
    of annotated images)."""
    items = project_items(project, **kw)
    if fmt == "csv":
        path = write_csv(out, items)
    elif fmt == "coco":
        path = write_coco(out, items, description=f"HipVision export of {project.root.name}")
    else:
        raise ValueError(f"export format must be csv or coco, got {fmt!r}")
    return path, sum(1 for i in items if i.landmarks is not None)
