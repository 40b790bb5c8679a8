"""Interchange formats: the flat CSV and COCO keypoints JSON. No Qt, no torch.

Decisions (see docs/adr/0001-interchange-formats.md):
- Landmarks are by *patient* side; the flat CSV has one row per image and side.
- Floats are written with repr() so a write -> read round trip is bit-exact.
- COCO has no notion of a radius: keypoints carry the head centres and rim points
  (visibility 2), radii and the side mapping ride in extra annotation fields.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hipvision.core.atomic import write_text_atomic
from hipvision.core.landmarks import HipLandmarks, LandmarkError, Side, SideLandmarks, SideMapping
from hipvision.core.records import LABELLED_STATUSES

CSV_COLUMNS = ("image", "side", "head_x", "head_y", "head_r", "rim_x", "rim_y", "na_deg")
# Appended by project exports, so an unreviewed model prediction can never pass as a
# measurement downstream; readers ignore them.
REVIEW_COLUMNS = ("status", "reviewed", "author")
COCO_KEYPOINTS = ("right_head_center", "right_acetabular_rim", "left_head_center", "left_acetabular_rim")
COCO_CATEGORY = {
    "id": 1,
    "name": "pelvis_vd",
    "supercategory": "radiograph",
    "keypoints": list(COCO_KEYPOINTS),
    "skeleton": [[1, 3], [1, 2], [3, 4]],  # head-head line and each side's NA arm (1-based, COCO style)
}


class InterchangeError(ValueError):
    """A malformed import file; the message names the file and the row or field."""


@dataclass(frozen=True)
class AnnotatedImage:
    """One image as the interchange formats see it."""

    image: str  # path relative to the project (or dataset) root, '/'-separated
    landmarks: HipLandmarks | None
    width: int = 0
    height: int = 0
    spacing: tuple[float, float] | None = None
    mapping: SideMapping = field(default_factory=SideMapping)
    # Where the landmarks stand in review (project exports only): the image status and the
    # current revision's author. None for plain files (predict output, imports).
    status: str | None = None
    author: str | None = None

    @property
    def reviewed(self) -> bool:
        """A person stands behind the landmarks (edited or verified); a model's guess is not."""
        return self.status in LABELLED_STATUSES


def _fmt(v: float) -> str:
    return repr(float(v))


# ---------------------------------------------------------------- flat CSV

def csv_rows(items: Iterable[AnnotatedImage]) -> list[dict[str, str]]:
    rows = []
    for item in items:
        lm = item.landmarks
        if lm is None:
            continue
        for side in (Side.LEFT, Side.RIGHT):
            s = lm.side(side)
            rows.append({
                "image": item.image, "side": side.value,
                "head_x": _fmt(s.head_x), "head_y": _fmt(s.head_y), "head_r": _fmt(s.head_r),
                "rim_x": _fmt(s.rim_x), "rim_y": _fmt(s.rim_y),
                "na_deg": _fmt(lm.norberg_angle(side)),
            })
            if item.status is not None:
                rows[-1].update(status=item.status, reviewed="yes" if item.reviewed else "no", author=item.author or "")
    return rows


def format_csv(items: Iterable[AnnotatedImage]) -> str:
    items = list(items)
    review = any(i.status is not None for i in items)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS + (REVIEW_COLUMNS if review else ()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(items))
    return buf.getvalue()


def write_csv(path: str | Path, items: Iterable[AnnotatedImage]) -> Path:
    return write_text_atomic(path, format_csv(items))


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a flat CSV, header checked; values left as strings."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InterchangeError(f"{path}: cannot read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS[:-1] if c not in (reader.fieldnames or [])]
    if missing:
        raise InterchangeError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    return list(reader)


def _side_from_row(path: Path, lineno: int, row: dict[str, str]) -> SideLandmarks:
    try:
        values = {k: float(row[k]) for k in ("head_x", "head_y", "head_r", "rim_x", "rim_y")}
        return SideLandmarks(**values)
    except (ValueError, TypeError, LandmarkError) as exc:
        raise InterchangeError(f"{path}: line {lineno}: {exc}") from None


def read_csv(path: str | Path) -> list[AnnotatedImage]:
    """Images with both sides present; an image with one side only is an error (NA needs both heads)."""
    path = Path(path)
    sides: dict[str, dict[Side, SideLandmarks]] = {}
    for lineno, row in enumerate(read_csv_rows(path), start=2):
        try:
            side = Side(row["side"].strip().lower())
        except ValueError:
            raise InterchangeError(f"{path}: line {lineno}: side must be left or right, got {row['side']!r}") from None
        image = row["image"].strip()
        if not image:
            raise InterchangeError(f"{path}: line {lineno}: empty image name")
        per_image = sides.setdefault(image, {})
        if side in per_image:
            raise InterchangeError(f"{path}: line {lineno}: duplicate {side.value} row for {image}")
        per_image[side] = _side_from_row(path, lineno, row)
    out = []
    for image, per in sides.items():
        if len(per) != 2:
            only = next(iter(per)).value
            raise InterchangeError(f"{path}: {image} has only a {only} row; both hips are needed")
        out.append(AnnotatedImage(image=image, landmarks=HipLandmarks(left=per[Side.LEFT], right=per[Side.RIGHT])))
    return out


# ---------------------------------------------------------------- COCO keypoints

def to_coco(items: Iterable[AnnotatedImage], *, description: str = "HipVision export") -> dict:
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id, item in enumerate(items, start=1):
        entry = {"id": image_id, "file_name": item.image, "width": item.width, "height": item.height,
                 "right_on_image_left": item.mapping.right_on_image_left}
        if item.spacing is not None:
            entry["pixel_spacing_mm"] = [float(item.spacing[0]), float(item.spacing[1])]
        images.append(entry)
        lm = item.landmarks
        if lm is None:
            continue
        kps: list[float] = []
        for side in (Side.RIGHT, Side.LEFT):
            s = lm.side(side)
            kps += [s.head_x, s.head_y, 2, s.rim_x, s.rim_y, 2]
        xs = [lm.left.head_x - lm.left.head_r, lm.right.head_x - lm.right.head_r, lm.left.rim_x, lm.right.rim_x,
              lm.left.head_x + lm.left.head_r, lm.right.head_x + lm.right.head_r]
        ys = [lm.left.head_y - lm.left.head_r, lm.right.head_y - lm.right.head_r, lm.left.rim_y, lm.right.rim_y,
              lm.left.head_y + lm.left.head_r, lm.right.head_y + lm.right.head_r]
        x0, y0 = min(xs), min(ys)
        w, h = max(xs) - x0, max(ys) - y0
        annotations.append({
            "id": len(annotations) + 1, "image_id": image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": kps, "num_keypoints": 4,
            "bbox": [x0, y0, w, h], "area": w * h,
            "head_radius": {"left": lm.left.head_r, "right": lm.right.head_r},
            "norberg_angle_deg": {s.value: lm.norberg_angle(s) for s in Side},
        })
        if item.status is not None:
            annotations[-1].update(status=item.status, reviewed=item.reviewed, author=item.author)
    return {"info": {"description": description}, "images": images, "annotations": annotations,
            "categories": [COCO_CATEGORY]}


def write_coco(path: str | Path, items: Iterable[AnnotatedImage], **kw) -> Path:
    return write_text_atomic(path, json.dumps(to_coco(items, **kw), indent=1))


def read_coco(path: str | Path) -> list[AnnotatedImage]:
    path = Path(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in data["images"]}
        annotations = data.get("annotations", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InterchangeError(f"{path}: not a COCO keypoints file: {exc}") from None
    by_image: dict[int, HipLandmarks] = {}
    for ann in annotations:
        where = f"{path}: annotation {ann.get('id')!r}"
        try:
            kp = [float(v) for v in ann["keypoints"]]
            radius = ann["head_radius"]
            if len(kp) != 12:
                raise ValueError(f"expected 12 keypoint values ({', '.join(COCO_KEYPOINTS)}), got {len(kp)}")
            sides = {}
            for i, side in enumerate((Side.RIGHT, Side.LEFT)):
                hx, hy, _, rx, ry, _ = kp[6 * i: 6 * i + 6]
                sides[side] = SideLandmarks(hx, hy, float(radius[side.value]), rx, ry)
            image_id = int(ann["image_id"])
        except (KeyError, TypeError, ValueError, LandmarkError) as exc:
            raise InterchangeError(f"{where}: {exc}") from None
        if image_id not in images:
            raise InterchangeError(f"{where}: image_id {image_id} is not in 'images'")
        if image_id in by_image:
            raise InterchangeError(f"{where}: a second annotation for image {image_id}")
        by_image[image_id] = HipLandmarks(left=sides[Side.LEFT], right=sides[Side.RIGHT])
    out = []
    for image_id, im in images.items():
        spacing = im.get("pixel_spacing_mm")
        if spacing is not None:
            spacing = (float(spacing[0]), float(spacing[1]))
            if not all(math.isfinite(v) and v > 0 for v in spacing):
                raise InterchangeError(f"{path}: image {image_id}: pixel_spacing_mm must be positive, got {spacing}")
        out.append(AnnotatedImage(
            image=str(im["file_name"]), landmarks=by_image.get(image_id),
            width=int(im.get("width", 0)), height=int(im.get("height", 0)), spacing=spacing,
            mapping=SideMapping(bool(im.get("right_on_image_left", True))),
        ))
    return out
