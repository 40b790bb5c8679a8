"""Loading radiographs: PNG, JPEG, TIFF (8/16-bit) and DICOM into one `Radiograph`.

Pixels are float32 at full bit depth with bone bright (MONOCHROME1 and TIFF MINISWHITE
inverted, DICOM rescale applied), never normalised: display goes through windowing.py.
The format is decided by the file's content, not its name, so a PNG called .dcm loads as a
PNG. Every failure is a `RadiographError` naming the file and the reason; sizes are checked
from the header before any pixel buffer is allocated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np

from hipvision.core.hashing import file_sha256
from hipvision.core.imagefile import (
    FORMAT_NAMES,
    MAX_PIXELS,
    MAX_SIDE,
    Decoded,
    ImageHeader,
    RadiographError,
    other_format_name,
    path_of,
    read_head,
    resize_area,
    sniff,
    target_size,
)

__all__ = [
    "MAX_PIXELS", "MAX_SIDE", "SUPPORTED_SUFFIXES", "ImageHeader", "Radiograph",
    "RadiographError", "detect_format", "is_radiograph_file", "load_radiograph",
    "read_header", "sha256_file",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom"})
_DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ""})


@dataclass(frozen=True, eq=False)  # eq=False: identity equality, since ndarray == is elementwise
class Radiograph:
    pixels: np.ndarray
    path: Path | None
    format: str
    bit_depth: int
    spacing: tuple[float, float] | None
    modality: str
    window: tuple[float, float] | None
    full_size: tuple[int, int]
    scale: float = 1.0
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.pixels.ndim != 2 or self.pixels.dtype != np.float32:
            raise ValueError(f"pixels: expected a 2-D float32 array, got {self.pixels.dtype} {self.pixels.shape}")
        if not self.scale > 0:
            raise ValueError(f"scale: must be > 0, got {self.scale}")
        if self.format not in FORMAT_NAMES:
            raise ValueError(f"format: expected one of {sorted(FORMAT_NAMES)}, got {self.format!r}")
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @cached_property
    def value_range(self) -> tuple[float, float]:
        return float(self.pixels.min()), float(self.pixels.max())

    def spacing_mm(self) -> tuple[float, float] | None:
        """(row, col) mm per pixel of `pixels` as loaded (the full-resolution spacing / scale)."""
        if self.spacing is None:
            return None
        return self.spacing[0] / self.scale, self.spacing[1] / self.scale


def detect_format(path: str | os.PathLike, head: bytes | None = None) -> str:
    """'png' | 'jpeg' | 'tiff' | 'dicom' from the content; the suffix only breaks the tie
    for DICOM files without the 128-byte preamble (old or hand-made files)."""
    path = path_of(path)
    if head is None:
        head = read_head(path)
    fmt = sniff(head)
    if fmt:
        return fmt
    other = other_format_name(head)
    if other:
        raise RadiographError(path, f"unsupported image format {other}; supported: PNG, JPEG, TIFF, DICOM")
    suffix = path.suffix.lower()
    if suffix in _DICOM_SUFFIXES or suffix[1:].isdigit():  # DICOM files are often named by UID
        return "dicom"
    hint = f" (its '{suffix}' extension does not match its content)" if suffix in SUPPORTED_SUFFIXES else ""
    raise RadiographError(path, f"not a PNG, JPEG, TIFF or DICOM file{hint}")


def _decode(path: Path, fmt: str, max_side: int | None) -> Decoded:
    from hipvision.core import dicom_io, raster_io

    try:
        if fmt in ("png", "jpeg"):
            return raster_io.decode_png_jpeg(path, fmt, max_side)
        if fmt == "tiff":
            return raster_io.decode_tiff(path)
        return dicom_io.decode_dicom(path, max_side)
    except RadiographError:
        raise
    except MemoryError:
        raise RadiographError(path, "not enough memory to decode this image") from None
    except Exception as exc:  # a decoder bug or an exotic file must not crash the caller
        raise RadiographError(path, f"cannot decode {FORMAT_NAMES[fmt]} ({type(exc).__name__}: {exc})") from None


def _check_finite(path: Path, pixels: np.ndarray) -> None:
    """NaN or infinite pixels (a float TIFF with NaN, a DICOM RescaleSlope of NaN or one that
    overflows float32) poison windowing and the model far from the file; refuse them here so
    every caller reports the same reason. min/max propagate NaN and reveal +-inf without
    allocating a mask the size of the image."""
    if pixels.dtype.kind != "f" or pixels.size == 0:
        return
    with np.errstate(invalid="ignore"):
        lo, hi = float(np.min(pixels)), float(np.max(pixels))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RadiographError(path, "pixel values are not finite (NaN or infinity; "
                                    "a float image with NaN, or a DICOM rescale that overflows)")


def load_radiograph(path: str | os.PathLike, *, max_side: int | None = None) -> Radiograph:
    """Decode `path`; with `max_side`, shrink so that max(H, W) <= max_side (cheaply where
    the format allows: JPEG/PNG are reduced while decoding, then INTER_AREA does the rest)."""
    if max_side is not None and int(max_side) < 1:
        raise ValueError(f"max_side: must be >= 1 or None, got {max_side}")
    path = path_of(path)
    fmt = detect_format(path)
    dec = _decode(path, fmt, max_side)
    _check_finite(path, dec.pixels)
    height, width = dec.full_size
    size = target_size(height, width, max_side)
    pixels = resize_area(dec.pixels, size)
    if pixels.dtype != np.float32 or not pixels.flags.c_contiguous:
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    scale = 1.0 if size == (height, width) else max(size) / max(height, width)
    return Radiograph(
        pixels=pixels, path=path, format=dec.format, bit_depth=int(dec.bit_depth),
        spacing=dec.spacing, modality=dec.modality, window=dec.window,
        full_size=(height, width), scale=scale, metadata=dec.metadata,
    )


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Size, bit depth, spacing and modality without decoding the pixels (reads the header only)."""
    from hipvision.core import dicom_io, raster_io

    path = path_of(path)
    head = read_head(path)
    fmt = detect_format(path, head)
    try:
        if fmt == "png":
            return raster_io.png_file_header(path, head)
        if fmt == "jpeg":
            return raster_io.jpeg_header(path)
        if fmt == "tiff":
            return raster_io.tiff_header(path)
        return dicom_io.dicom_header(path)
    except RadiographError:
        raise
    except Exception as exc:
        raise RadiographError(path, f"cannot read {FORMAT_NAMES[fmt]} header ({type(exc).__name__}: {exc})") from None


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes, streamed (radiographs can be 40 MB)."""
    path = path_of(path)
    if path.is_dir():
        raise RadiographError(path, "is a directory, not an image file")
    if not path.exists():
        raise RadiographError(path, "file not found")
    try:
        return file_sha256(path)
    except OSError as exc:
        raise RadiographError(path, f"cannot read file: {exc.strerror or exc}") from None


def is_radiograph_file(path: str | os.PathLike) -> bool:
    """For folder import: a regular file with a supported suffix, or any file with the DICOM
    'DICM' marker (DICOM files are often named by UID, without or with a numeric suffix)."""
    path = path_of(path)
    if path.name.startswith(".") or path.name.upper() == "DICOMDIR":
        return False  # hidden/temporary files, AppleDouble '._x.png', DICOM directory indexes
    try:
        if not path.is_file():
            return False
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            return True
        with open(path, "rb") as f:
            return sniff(f.read(132)) == "dicom"
    except OSError:
        return False
