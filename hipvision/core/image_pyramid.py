"""A display pyramid for big radiographs (Qt-free).

A 4,300 x 4,300 radiograph is 18.5 MP; re-windowing all of it on every mouse move of a
window/level drag costs ~20 ms, and the screen shows at most ~2 MP of it. The canvas
therefore displays the pyramid level whose pixels are closest to screen pixels, cropped to
the visible region plus a margin, so each re-window touches a screenful of pixels whatever
the image size. Landmarks stay in full-resolution coordinates throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipvision.core.imagefile import resize_area

# Below this long side a level is not worth having: it would be smaller than a window.
MIN_LEVEL_SIDE = 768


@dataclass(frozen=True)
class Crop:
    """A region of one level, and where it lies in full-resolution coordinates.

    rect = (x, y, w, h) in the canvas's image coordinates, where integers are pixel centres,
    so level-0 pixel (row 0, col 0) covers [-0.5, 0.5] x [-0.5, 0.5]."""

    level: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    rect: tuple[float, float, float, float]

    def contains(self, level: int, x0: float, y0: float, x1: float, y1: float) -> bool:
        x, y, w, h = self.rect
        return level == self.level and x <= x0 and y <= y0 and x + w >= x1 and y + h >= y1


class ImagePyramid:
    def __init__(self, pixels: np.ndarray, *, min_side: int = MIN_LEVEL_SIDE):
        if pixels.ndim != 2:
            raise ValueError(f"pixels: expected a 2-D array, got shape {pixels.shape}")
        self.levels: list[np.ndarray] = [pixels]
        while max(self.levels[-1].shape) >= 2 * min_side:
            prev = self.levels[-1]
            # INTER_AREA halving = a 2x2 box mean: no aliasing in the overview.
            self.levels.append(resize_area(prev, ((prev.shape[0] + 1) // 2, (prev.shape[1] + 1) // 2)))

    @property
    def shape(self) -> tuple[int, int]:
        return self.levels[0].shape

    def factors(self, level: int) -> tuple[float, float]:
        """(x, y) full-resolution pixels per pixel of `level`."""
        h, w = self.levels[level].shape
        return self.shape[1] / w, self.shape[0] / h

    def level_for(self, image_px_per_screen_px: float) -> int:
        """The coarsest level that still has at least one pixel per screen pixel."""
        if not math.isfinite(image_px_per_screen_px) or image_px_per_screen_px <= 1.0:
            return 0
        return min(len(self.levels) - 1, int(math.floor(math.log2(image_px_per_screen_px))))

    def crop(self, level: int, x0: float, y0: float, x1: float, y1: float, *, margin: float = 0.25) -> Crop:
        """The part of `level` covering the full-resolution box [x0, x1] x [y0, y1] grown by
        `margin` of its size on each side, clipped to the image."""
        fx, fy = self.factors(level)
        h, w = self.levels[level].shape
        mx, my = (x1 - x0) * margin, (y1 - y0) * margin
        c0 = max(0, int(math.floor((x0 - mx + 0.5) / fx)))
        c1 = min(w, int(math.ceil((x1 + mx + 0.5) / fx)))
        r0 = max(0, int(math.floor((y0 - my + 0.5) / fy)))
        r1 = min(h, int(math.ceil((y1 + my + 0.5) / fy)))
        if c1 <= c0 or r1 <= r0:  # the view is off the image: show the whole level
            r0, r1, c0, c1 = 0, h, 0, w
        rect = (c0 * fx - 0.5, r0 * fy - 0.5, (c1 - c0) * fx, (r1 - r0) * fy)
        return Crop(level, (r0, r1), (c0, c1), rect)

    def pixels(self, crop: Crop) -> np.ndarray:
        return self.levels[crop.level][crop.rows[0]:crop.rows[1], crop.cols[0]:crop.cols[1]]

    def value_at(self, x: float, y: float) -> float | None:
        """Full-resolution pixel value under an image point, None outside the image."""
        col, row = int(round(x)), int(round(y))
        h, w = self.shape
        if 0 <= row < h and 0 <= col < w:
            return float(self.levels[0][row, col])
        return None
