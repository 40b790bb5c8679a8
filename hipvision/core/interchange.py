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
from dataclasses import dataclass, field, replace
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


# Sanity bounds for values read from label files. Coordinates may sit a little outside the
# image (a head centre past the border) but not 10 image sides away; 1e6 px when the size is
# unknown. No radiograph has pixels over 100 mm.
COORD_LIMIT = 1e6
MAX_SPACING_MM = 100.0


@dataclass(frozen=True)
class LabelProblem:
    """One entry of a label file left out, and why. `entry` is empty when the whole file is."""

    file: str
    entry: str  # "line 7", "image 3", "annotation 5", "images[2]", an image name, or ""
    reason: str

    def __str__(self) -> str:
        return ": ".join(p for p in (self.file, self.entry, self.reason) if p)


@dataclass(frozen=True)
class LabelFile:
    """What a label file yields: the good entries, and a problem for each one left out, so one
    bad entry never costs the rest of the file."""

    items: list[AnnotatedImage]
    problems: list[LabelProblem]

    def strict(self) -> list[AnnotatedImage]:
        if self.problems:
            raise InterchangeError(str(self.problems[0]))
        return self.items


def coordinate_limit(width: int | None, height: int | None) -> float:
    side = max(width or 0, height or 0)
    return min(10.0 * side, COORD_LIMIT) if side > 0 else COORD_LIMIT


def _number(v: object, what: str, limit: float) -> float:
    """A finite JSON/CSV number with |v| <= limit; strings and booleans are not numbers here."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise ValueError(f"{what} must be a number, got {v!r:.40}")
    try:
        f = float(v)
    except OverflowError:
        raise ValueError(f"{what} is too large to be a coordinate") from None
    if not math.isfinite(f) or abs(f) > limit:
        raise ValueError(f"{what} must be a finite number within ±{limit:g}, got {f!r}")
    return f


def _image_name(v: object) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"file_name must be a non-empty string, got {v!r:.40}")
    if any(ord(c) < 32 for c in v):
        raise ValueError(f"image name {v!r:.60} contains control characters")
    return v


def _entry(kind: str, index: int, obj: object) -> str:
    if isinstance(obj, dict) and isinstance(obj.get("id"), (int, str)):
        return f"{kind} {obj['id']!r:.40}"
    return f"{kind}s[{index}]"


def _reason(exc: InterchangeError, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def _problem_order(p: LabelProblem) -> tuple:
    head, _, num = p.entry.partition(" ")
    return (0, int(num), "") if head == "line" and num.isdigit() else (1, 0, p.entry)


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


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InterchangeError(f"{path}: cannot read: {exc}") from None


def _csv_rows(path: Path, problems: list[LabelProblem]) -> list[tuple[int, dict[str, str | None]]]:
    """(line, row) pairs, header checked. A row the csv module cannot parse (a field over its
    size limit) becomes a problem and reading goes on: one bad line must not hide the rest."""
    reader = csv.reader(io.StringIO(_read_text(path)))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise InterchangeError(f"{path}: line 1: {exc}") from None
    missing = [c for c in CSV_COLUMNS[:-1] if c not in header]
    if missing:
        raise InterchangeError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    rows: list = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            problems.append(LabelProblem(str(path), f"line {reader.line_num}", str(exc)))
            continue
        if values:
            # Short rows leave None, as DictReader would; the checks below reject them by name.
            rows.append((reader.line_num, dict(zip(header, values + [None] * (len(header) - len(values))))))


def read_csv_rows(path: str | Path) -> list[dict[str, str | None]]:
    """Rows of a flat CSV, header checked; values left as strings (None where a row is short)."""
    problems: list[LabelProblem] = []
    rows = _csv_rows(Path(path), problems)
    if problems:
        raise InterchangeError(str(problems[0]))
    return [row for _, row in rows]


def _side_from_row(row: dict[str, str | None]) -> SideLandmarks:
    values = {}
    for k in ("head_x", "head_y", "head_r", "rim_x", "rim_y"):
        text = row.get(k)
        if text is None:
            raise ValueError(f"no {k} value")
        try:
            values[k] = _number(float(text), k, COORD_LIMIT)
        except ValueError as exc:
            raise ValueError(f"{k}: {exc}") from None
    return SideLandmarks(**values)


def _csv_row(row: dict[str, str | None]) -> tuple[str, Side, SideLandmarks]:
    side_text = (row.get("side") or "").strip().lower()
    if side_text not in (Side.LEFT.value, Side.RIGHT.value):
        raise ValueError(f"side must be left or right, got {row.get('side')!r}")
    image = _image_name((row.get("image") or "").strip())
    return image, Side(side_text), _side_from_row(row)


def load_csv(path: str | Path) -> LabelFile:
    """Images with both sides present, and a problem for every row or image left out.

    An image with one side only is a problem (NA needs both heads); the file as a whole is a
    problem only when it cannot be read or lacks a column."""
    path = Path(path)
    problems: list[LabelProblem] = []
    try:
        rows = _csv_rows(path, problems)
    except InterchangeError as exc:
        return LabelFile([], [LabelProblem(str(path), "", _reason(exc, path))])
    sides: dict[str, dict[Side, SideLandmarks]] = {}
    for lineno, row in rows:
        try:
            image, side, landmarks = _csv_row(row)
            if side in sides.get(image, {}):
                raise ValueError(f"duplicate {side.value} row for {image}")
        except (ValueError, LandmarkError) as exc:
            problems.append(LabelProblem(str(path), f"line {lineno}", str(exc)))
            continue
        sides.setdefault(image, {})[side] = landmarks
    out = []
    for image, per in sides.items():
        if len(per) != 2:
            only = next(iter(per)).value
            problems.append(LabelProblem(str(path), image, f"has only a {only} row; both hips are needed"))
            continue
        out.append(AnnotatedImage(image=image, landmarks=HipLandmarks(left=per[Side.LEFT], right=per[Side.RIGHT])))
    problems.sort(key=_problem_order)
    return LabelFile(out, problems)


def read_csv(path: str | Path) -> list[AnnotatedImage]:
    """Strict reading, for measuring a file: the first problem is an InterchangeError."""
    return load_csv(path).strict()


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


def _coco_image(im: object) -> tuple[int, AnnotatedImage]:
    if not isinstance(im, dict):
        raise ValueError(f"expected an object, got {type(im).__name__}")
    image_id = im.get("id")
    if not isinstance(image_id, int) or isinstance(image_id, bool):
        raise ValueError(f"id must be an integer, got {image_id!r}")
    size = [im.get(k) for k in ("width", "height")]
    for k, v in zip(("width", "height"), size):
        # null is a writer that did not know the size, not a size.
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= COORD_LIMIT):
            raise ValueError(f"{k} must be a whole number of pixels, got {v!r}")
    spacing = im.get("pixel_spacing_mm")
    if spacing is not None:
        if not isinstance(spacing, list) or len(spacing) != 2:
            raise ValueError(f"pixel_spacing_mm must be [row, column] in mm, got {spacing!r}")
        spacing = tuple(_number(v, "pixel_spacing_mm", MAX_SPACING_MM) for v in spacing)
        if not all(v > 0 for v in spacing):
            raise ValueError(f"pixel_spacing_mm must be positive, got {list(spacing)}")
    right_on_left = im.get("right_on_image_left", True)
    if not isinstance(right_on_left, bool):
        # A string "false" is truthy: reading it loosely would swap the hips.
        raise ValueError(f"right_on_image_left must be true or false, got {right_on_left!r}")
    return image_id, AnnotatedImage(
        image=_image_name(im.get("file_name")), landmarks=None, width=size[0] or 0, height=size[1] or 0,
        spacing=spacing, mapping=SideMapping(right_on_left))


def _coco_landmarks(ann: dict, item: AnnotatedImage) -> HipLandmarks:
    limit = coordinate_limit(item.width, item.height)
    kp = ann.get("keypoints")
    if not isinstance(kp, list) or len(kp) != 12:
        got = len(kp) if isinstance(kp, list) else repr(kp)
        raise ValueError(f"expected 12 keypoint values ({', '.join(COCO_KEYPOINTS)}), got {got}")
    kp = [_number(v, "keypoints", limit) for v in kp]
    radius = ann.get("head_radius")
    if not isinstance(radius, dict):
        raise ValueError(f"head_radius must be {{\"left\": r, \"right\": r}}, got {radius!r}")
    sides = {}
    for i, side in enumerate((Side.RIGHT, Side.LEFT)):
        hx, hy, _, rx, ry, _ = kp[6 * i: 6 * i + 6]
        sides[side] = SideLandmarks(hx, hy, _number(radius.get(side.value), "head_radius", limit), rx, ry)
    return HipLandmarks(left=sides[Side.LEFT], right=sides[Side.RIGHT])


def _coco_document(path: Path) -> tuple[list, list]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        # RecursionError: deeply nested brackets exhaust the json module's recursion.
        raise InterchangeError(f"{path}: not a COCO keypoints file: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise InterchangeError(f"{path}: not a COCO keypoints file: expected an object with an 'images' list")
    return data["images"], data.get("annotations", [])


def load_coco(path: str | Path) -> LabelFile:
    """Images and their landmarks, and a problem for every image or annotation left out."""
    path = Path(path)
    try:
        images_in, annotations = _coco_document(path)
    except InterchangeError as exc:
        return LabelFile([], [LabelProblem(str(path), "", _reason(exc, path))])
    problems: list[LabelProblem] = []
    images: dict[int, AnnotatedImage] = {}
    for i, im in enumerate(images_in):
        try:
            image_id, item = _coco_image(im)
            if image_id in images:
                raise ValueError(f"a second image with id {image_id}")
            images[image_id] = item
        except (ValueError, LandmarkError) as exc:
            problems.append(LabelProblem(str(path), _entry("image", i, im), str(exc)))
    if not isinstance(annotations, list):
        problems.append(LabelProblem(str(path), "annotations", f"must be a list, got {annotations!r:.40}"))
        annotations = []
    labelled: dict[int, HipLandmarks] = {}
    for i, ann in enumerate(annotations):
        try:
            if not isinstance(ann, dict):
                raise ValueError(f"expected an object, got {type(ann).__name__}")
            ann_image = ann.get("image_id")
            if not isinstance(ann_image, int) or ann_image not in images:
                raise ValueError(f"image_id {ann_image!r} is not a valid entry of 'images'")
            image_id = ann_image
            if image_id in labelled:
                raise ValueError(f"a second annotation for image {image_id}")
            labelled[image_id] = _coco_landmarks(ann, images[image_id])
        except (ValueError, LandmarkError) as exc:
            problems.append(LabelProblem(str(path), _entry("annotation", i, ann), str(exc)))
    out = [replace(item, landmarks=labelled.get(image_id)) for image_id, item in images.items()]
    return LabelFile(out, problems)


def read_coco(path: str | Path) -> list[AnnotatedImage]:
    """Strict reading, for files the app wrote: the first problem is an InterchangeError."""
    return load_coco(path).strict()
