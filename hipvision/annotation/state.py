"""What the window shows for one image, read from the store (Qt-free).

The store is the single source of truth: the canvas, the measurement panel and the image
list all re-read an `AnnotationState` after every write, so an edit from the user, an undo
and a prediction from the engine take the same path to the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from hipvision.annotation.landmark_edit import default_landmarks
from hipvision.annotation.plausibility import Assessment, assess
from hipvision.core.geometry import GeometryError
from hipvision.core.grading import DEFAULT_THRESHOLDS, Grade, GradeThresholds, grade_hint
from hipvision.core.landmarks import HipLandmarks, Side, SideMapping
from hipvision.core.records import ImageRecord
from hipvision.core.store import Project

# How an annotation is drawn: a model's guess looks provisional (dashed), a person's edit
# solid, a verified one solid with a check in the panel, an unplaced default dotted and dim.
# 'flagged' is a model's guess with a concern (low confidence, impossible geometry): drawn
# unconfirmed and never graded until a person reviews it.
KINDS = ("unplaced", "model", "flagged", "user", "verified")
# Kinds whose numbers are not a measurement yet: no grade, no grade colour, no BVA points.
UNGRADED_KINDS = ("unplaced", "flagged")


@dataclass(frozen=True)
class StoredEdit:
    """The part of an image's state an undo command restores: one write to the store.

    `author` and `confidence` travel with the landmarks so that undoing back to an imported
    or predicted revision restores who made it ("import:…", "model:…") instead of crediting
    the user with it (an audit trail for clinical use)."""

    landmarks: HipLandmarks | None
    status: str
    mapping: SideMapping
    author: str = "user"
    confidence: dict | None = None


@dataclass(frozen=True)
class AnnotationState:
    image: ImageRecord
    landmarks: HipLandmarks | None  # the current stored revision's landmarks (None: none)
    author: str | None = None
    created_at: str | None = None
    confidence: dict | None = None
    has_prediction: bool = False

    @property
    def placed(self) -> bool:
        return self.landmarks is not None

    @property
    def shown(self) -> HipLandmarks | None:
        """Stored landmarks, or the default placement for an image with none."""
        if self.landmarks is not None:
            return self.landmarks
        if self.image.error or not self.image.width or not self.image.height:
            return None
        return default_landmarks(self.image.width, self.image.height, self.image.mapping)

    @property
    def assessment(self) -> Assessment:
        """Concerns about the stored landmarks (none when nothing is stored)."""
        if self.landmarks is None:
            return Assessment()
        size = (self.image.width, self.image.height) if self.image.width and self.image.height else None
        return assess(self.landmarks, size, self.confidence)

    @property
    def kind(self) -> str:
        if self.landmarks is None:
            return "unplaced"
        if self.image.status == "predicted":
            return "flagged" if self.assessment.doubtful else "model"
        if self.image.status == "verified":
            return "verified"
        return "user"

    @property
    def confidence_note(self) -> str:
        """The model's per-landmark confidence as one line, for a model's (unreviewed) labels,
        doubtful ones included (their concerns are in the banner)."""
        if self.kind not in ("model", "flagged") or not self.confidence:
            return ""
        parts = [f"{k} {v:.2f}" for k, v in sorted(self.confidence.items()) if isinstance(v, (int, float))]
        return "Model confidence: " + ", ".join(parts) if parts else ""

    @property
    def stored(self) -> StoredEdit:
        # An empty revision's author is irrelevant to the audit trail: whoever cleared it is
        # recorded by the revision itself; restoring "no landmarks" is always the user's act.
        author = self.author if self.author is not None and self.landmarks is not None else "user"
        return StoredEdit(self.landmarks, self.image.status, self.image.mapping, author,
                          self.confidence if author != "user" else None)


def load_state(project: Project, image_id: int) -> AnnotationState:
    rec = project.image(image_id)
    ann = project.current_annotation(image_id)
    has_pred = project.latest_model_annotation(image_id) is not None
    if ann is None:
        return AnnotationState(rec, None, has_prediction=has_pred)
    return AnnotationState(rec, ann.landmarks, ann.author, ann.created_at, ann.confidence, has_pred)


@dataclass(frozen=True)
class RowSummary:
    """One line of the image list."""

    na: dict[Side, float]  # empty when unplaced or undefined
    worst: Grade | None  # None when ungraded (unplaced, flagged) or undefined
    kind: str = "user"

    def text(self, side: Side) -> str:
        if side not in self.na:
            return "–"
        # A doubtful prediction's angle is not a measurement: marked as the canvas marks it.
        return f"{self.na[side]:.1f}° ?" if self.kind == "flagged" else f"{self.na[side]:.1f}°"


_GRADE_ORDER = (Grade.NORMAL, Grade.BORDERLINE, Grade.SUSPECT)


def row_summary(landmarks: HipLandmarks | None, thresholds: GradeThresholds = DEFAULT_THRESHOLDS,
                kind: str = "user") -> RowSummary:
    if landmarks is None:
        return RowSummary({}, None, kind)
    try:
        na = landmarks.norberg_angles()
    except GeometryError:
        return RowSummary({}, None, kind)
    if kind in UNGRADED_KINDS:
        return RowSummary(na, None, kind)
    worst = max((grade_hint(v, thresholds) for v in na.values()), key=_GRADE_ORDER.index)
    return RowSummary(na, worst, kind)
