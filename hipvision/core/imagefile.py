"""What every radiograph decoder shares: the error type, the cheap header, size limits,
format sniffing by content, and the reduce-to-max_side arithmetic.

Kept apart from radiograph.py so that the per-format modules (raster_io, dicom_io) can
import it without a cycle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# A 4,300 x 4,300 radiograph is 18.5 MP; the largest detectors (43 x 43 cm at 50 um) give
# 74 MP. Beyond these limits a file is far more likely a decompression bomb or a corrupt
# header than an X-ray, so it is refused from the header, before any allocation. 150 MP keeps
# the app's worst case (16-bit decode + float32 copy + display pyramid) under ~2 GB; the
# 250-MP limit before let a 1.9 MB 16-bit RGBA PNG of 15,811^2 px take 3.7 GB in the GUI.
MAX_SIDE = 20_000
MAX_PIXELS = 150_000_000
# What a decoder that keeps every channel (tifffile) may allocate for the raw samples.
MAX_DECODED_BYTES = 1_000_000_000

FORMAT_NAMES = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "dicom": "DICOM"}

_OTHER_FORMATS = (  # recognised only to name them in the error message
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 (JP2)"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
)


class RadiographError(Exception):
    """A file that cannot be read as a radiograph; str() is '<path>: <reason>'."""

    def __init__(self, path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # keep it picklable across process pools
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class ImageHeader:
    """What a file says about its image without decoding the pixels."""

    width: int
    height: int
    bit_depth: int
    format: str
    spacing: tuple[float, float] | None = None
    modality: str = ""


@dataclass(frozen=True, eq=False)
class Decoded:
    """A decoder's result: 2-D pixels (any numeric dtype, possibly reduced) plus what the file says."""

    pixels: np.ndarray
    format: str
    bit_depth: int
    full_size: tuple[int, int]
    spacing: tuple[float, float] | None = None
    modality: str = ""
    window: tuple[float, float] | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def check_dimensions(path, width: int, height: int, *, sample_bytes: int = 0) -> None:
    """Refuse absurd sizes from the header alone, before anything is allocated.

    `sample_bytes`: bytes per pixel of a decoder that holds every channel at once (a 16-bit
    RGBA TIFF: 8), checked against MAX_DECODED_BYTES."""
    if width <= 0 or height <= 0:
        raise RadiographError(path, f"invalid image size {width} x {height} px in the header")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise RadiographError(
            path,
            f"image size {width} x {height} px exceeds the limit of {MAX_SIDE:,} px per side "
            f"and {MAX_PIXELS // 1_000_000} megapixels (corrupt header or decompression bomb?)",
        )
    if width * height * sample_bytes > MAX_DECODED_BYTES:
        raise RadiographError(
            path,
            f"image of {width} x {height} px with {sample_bytes} bytes per pixel needs "
            f"{width * height * sample_bytes / 1e9:.1f} GB to decode (limit "
            f"{MAX_DECODED_BYTES / 1e9:.1f} GB); save it as one gray channel",
        )


def sniff(head: bytes) -> str | None:
    """Format from the first 132 bytes: 'png' | 'jpeg' | 'tiff' | 'dicom' | None."""
    # DICOM first: its 128-byte preamble may itself hold a TIFF header (dual-format files).
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def other_format_name(head: bytes) -> str | None:
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        return "WebP"
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            return name
    return None


def read_head(path: Path, n: int = 132) -> bytes:
    """First bytes of a regular, non-empty, readable file, or a RadiographError saying why not."""
    try:
        if path.is_dir():
            raise RadiographError(path, "is a directory, not an image file")
        if not path.exists():
            raise RadiographError(path, "file not found")
        if not path.is_file():
            raise RadiographError(path, "not a regular file")
        size = path.stat().st_size
        if size == 0:
            raise RadiographError(path, "empty file (0 bytes)")
        with open(path, "rb") as f:
            return f.read(n)
    except PermissionError:
        raise RadiographError(path, "permission denied") from None
    except OSError as exc:
        raise RadiographError(path, f"cannot read file: {exc.strerror or exc}") from None


def target_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(H, W) after shrinking so that max(H, W) <= max_side; never enlarges."""
    if max_side is None or max(height, width) <= max_side:
        return height, width
    s = max_side / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def reduction_factor(height: int, width: int, max_side: int | None) -> int:
    """Largest of 1/2/4/8 a decoder may shrink by natively and still be >= the target."""
    if max_side is None:
        return 1
    for k in (8, 4, 2):
        if -(-max(height, width) // k) >= max_side:
            return k
    return 1


def resize_area(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """INTER_AREA (box-average: no aliasing, keeps the mean) to exactly (H, W)."""
    if pixels.shape[:2] == tuple(size):
        return pixels
    import cv2

    if pixels.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        pixels = pixels.astype(np.float32)
    return cv2.resize(pixels, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def to_gray(pixels: np.ndarray, order: str = "RGB") -> np.ndarray:
    """(H, W, C) -> (H, W) luminance, alpha dropped; 2-D input passes through."""
    if pixels.ndim == 2:
        return pixels
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        return pixels[:, :, 0]
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"unsupported pixel array shape {pixels.shape}")
    rgb = pixels[:, :, :3]
    import cv2

    if rgb.dtype in (np.uint8, np.uint16, np.float32):
        code = cv2.COLOR_RGB2GRAY if order == "RGB" else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(np.ascontiguousarray(rgb), code)
    w = np.array([0.299, 0.587, 0.114] if order == "RGB" else [0.114, 0.587, 0.299])
    return (rgb.astype(np.float64) @ w).astype(np.float32)


def path_of(path: str | os.PathLike) -> Path:
    return Path(os.fspath(path))
