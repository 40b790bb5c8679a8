"""Export a project's current annotations to the interchange formats."""

from __future__ import annotations

from pathlib import Path

from hipvision.core.interchange import AnnotatedImage, write_coco, write_csv
from hipvision.core.store import Project


def project_items(project: Project, *, include_synthetic: bool = False, image_ids=None) -> list[AnnotatedImage]:
    items = []
    for rec in project.images(source=None if include_synthetic else "real"):
        if rec.error or (image_ids is not None and rec.id not in image_ids):
            continue
        items.append(AnnotatedImage(
            image=rec.path, landmarks=project.current_landmarks(rec.id), width=rec.width or 0,
            height=rec.height or 0, spacing=rec.spacing, mapping=rec.mapping))
    return items


def export_project(project: Project, out: str | Path, fmt: str, **kw) -> tuple[Path, int]:
    """Write CSV or COCO; returns (path, number of annotated images)."""
    items = project_items(project, **kw)
    if fmt == "csv":
        path = write_csv(out, items)
    elif fmt == "coco":
        path = write_coco(out, items, description=f"HipVision export of {project.root.name}")
    else:
        raise ValueError(f"export format must be csv or coco, got {fmt!r}")
    return path, sum(1 for i in items if i.landmarks is not None)
