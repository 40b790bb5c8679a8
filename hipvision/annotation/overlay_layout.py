"""Where the two NA labels go and how big the landmark symbols are, in *device* pixels (Qt-free).

The painter measures the text; this module decides. On small hips (a whole-body view, a
zoomed-out canvas) the two heads are a few dozen pixels apart, so a label put beside each
head independently lands on the other label and on the landmarks: here both labels are
placed together, the second avoiding the first, and neither covering a head centre, rim or
radius handle. Symbols shrink with the head on screen so the outline and rim stay visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float]

# A symbol at most this fraction of the head radius on screen: a cross as wide as the head
# would hide it. Never below MIN_MARKER_PX, where it would no longer read as a symbol.
MARKER_TO_HEAD = 0.35
MIN_MARKER_PX = 2.0
_STEPS = 16  # how far out a label may be walked, in half label heights


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def centred(cls, c: Point, w: float, h: float) -> Box:
        return cls(c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2)

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def grown(self, d: float) -> Box:
        return Box(self.x0 - d, self.y0 - d, self.x1 + d, self.y1 + d)

    def contains(self, p: Point) -> bool:
        return self.x0 <= p[0] <= self.x1 and self.y0 <= p[1] <= self.y1

    def intersects(self, o: Box) -> bool:
        return self.x0 < o.x1 and o.x0 < self.x1 and self.y0 < o.y1 and o.y0 < self.y1


@dataclass(frozen=True)
class LabelRequest:
    """One hip's label: `towards` is the preferred unit direction from the head (the NA arc's
    bisector), `outward` the unit direction away from the other head, `start` the distance
    from the head the box must clear (the arc), `keep_clear` this hip's landmark points."""
    head: Point
    towards: Point
    outward: Point
    start: float
    size: tuple[float, float]
    keep_clear: tuple[Point, ...]


def marker_size(head_r_px: float, marker_px: float) -> float:
    """Symbol half-size for a head of radius `head_r_px` on screen or paper: the style's size
    on normal hips, smaller on small ones so the cross, diamond and dot don't bury them."""
    return max(min(MIN_MARKER_PX, marker_px), min(marker_px, MARKER_TO_HEAD * head_r_px))


def _unit(dx: float, dy: float) -> Point:
    n = math.hypot(dx, dy)
    return (dx / n, dy / n) if n > 1e-9 else (0.0, -1.0)


def _candidates(r: LabelRequest):
    """Boxes in order of preference: along the bisector (as on normal hips), then outward
    and upward from the head at growing distances, then the other ways round."""
    w, h = r.size
    ox, oy = r.outward
    ways = [r.towards, _unit(ox, oy - 1.0), (0.0, -1.0), (ox, oy), _unit(ox, oy + 1.0), (0.0, 1.0)]

    def at(d: Point, k: int) -> Box:
        dist = r.start + abs(d[0]) * w / 2 + abs(d[1]) * h / 2 + k * h / 2
        return Box.centred((r.head[0] + d[0] * dist, r.head[1] + d[1] * dist), w, h)

    for k in range(6):
        yield at(r.towards, k)
    for k in range(_STEPS):
        for d in ways:
            yield at(d, k)


def _stack(box: Box, placed: list[Box], gap: float) -> Box:
    """Move `box` straight up until it clears every placed box: labels never overlap."""
    while (hit := next((p for p in placed if box.grown(gap).intersects(p)), None)) is not None:
        dy = hit.y0 - gap - box.y1
        box = Box(box.x0, box.y0 + dy, box.x1, box.y1 + dy)
    return box


def place_labels(requests: list[LabelRequest], clearance: float) -> list[Box]:
    """One box per request, in order: disjoint from each other (with a gap) and, where any
    candidate allows, at least `clearance` from every landmark of *both* hips."""
    avoid = [p for r in requests for p in r.keep_clear]
    placed: list[Box] = []
    for r in requests:
        gap = 0.15 * r.size[1]
        best, best_score = None, math.inf
        for box in _candidates(r):
            grown = box.grown(clearance)
            score = (100 * sum(box.grown(gap).intersects(p) for p in placed)
                     + sum(grown.contains(p) for p in avoid))
            if score < best_score:
                best, best_score = box, score
            if score == 0:
                break
        placed.append(_stack(best, placed, gap))
    return placed
