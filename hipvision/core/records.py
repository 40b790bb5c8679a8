"""Typed rows of the project store. Plain frozen dataclasses: safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hipvision.core.landmarks import HipLandmarks, SideMapping

SPLITS = ("train", "val", "test")
SOURCES = ("real", "synthetic")
STATUSES = ("new", "predicted", "edited", "verified", "error")
# Statuses whose current annotation a person stands behind: the only ones used as training labels.
LABELLED_STATUSES = ("edited", "verified")



class StoreError(RuntimeError):
    """A project problem a user can act on; the message names the project or image."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")

@dataclass(frozen=True)
class ImageRecord:
    id: int
    path: str  # relative to the project root ('/'-separated), or '@data/...' inside the data dir
    abs_path: Path
    sha256: str | None
    width: int | None
    height: int | None
    bit_depth: int | None
    spacing: tuple[float, float] | None
    modality: str
    split: str
    source: str
    status: str
    mapping: SideMapping
    error: str | None
    added_at: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_synthetic(self) -> bool:
        return self.source == "synthetic"


@dataclass(frozen=True)
class Annotation:
    """One revision. The newest revision of an image is its current annotation."""

    id: int
    image_id: int
    author: str  # 'user', 'model:<id>', 'import:<file>', 'generator:<method>'
    created_at: str
    landmarks: HipLandmarks | None  # None: the user cleared the image
    confidence: dict[str, float] | None = None
    note: str | None = None


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    backbone: str
    file: str
    abs_file: Path
    created_at: str
    kind: str  # trained | default | imported
    data_summary: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    active: bool = False


@dataclass(frozen=True)
class SyntheticRecord:
    image_id: int
    method: str
    generator: str
    seed: int
    condition: HipLandmarks | None
    gate_score: float | None
    created_at: str


@dataclass(frozen=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    labels_imported: int = 0
    labels_file: str | None = None
    # interchange.LabelProblem: each label-file entry left out (file, entry, reason).
    label_problems: list = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged"]
        if self.errors:
            parts.append(f"{len(self.errors)} unreadable")
        if self.labels_file:
            parts.append(f"{self.labels_imported} labelled from {self.labels_file}")
        if self.label_problems:
            parts.append(f"{len(self.label_problems)} label entries rejected")
        return ", ".join(parts)
