"""PNG, JPEG and TIFF: header parsing without decoding, and decoding at full bit depth.

OpenCV decodes PNG/JPEG (it can shrink JPEGs while decoding, which makes a 1024-px preview
of a 4,300-px radiograph cost a fraction of a full decode); tifffile decodes TIFF (16-bit,
float, multi-page), with OpenCV's libtiff as the fallback for codecs tifffile needs the
absent `imagecodecs` for (LZW, JPEG, PackBits). Pillow only steps in when OpenCV refuses a
file, to decode it or at least to say why it cannot be decoded.

EXIF orientation is deliberately ignored: landmark coordinates are stored in raw pixel order
and must not depend on which decoder read the file.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from hipvision.core.imagefile import (
    Decoded,
    ImageHeader,
    RadiographError,
    check_dimensions,
    reduction_factor,
    to_gray,
)

_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


# ---------------------------------------------------------------- headers (no decoding)


def png_header(path: Path, head: bytes) -> ImageHeader:
    if len(head) < 33 or head[12:16] != b"IHDR" or struct.unpack(">I", head[8:12])[0] != 13:
        raise RadiographError(path, "corrupt PNG: missing or malformed IHDR header")
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise RadiographError(path, "corrupt PNG: IHDR checksum mismatch")
    width, height, depth = struct.unpack(">IIB", head[16:25])
    check_dimensions(path, width, height)
    return ImageHeader(width=width, height=height, bit_depth=16 if depth == 16 else 8, format="png")


def _jpeg_scan(path: Path, f) -> tuple[int, int, int, int]:
    """Walk the JPEG marker segments up to the first scan.

    Returns (width, height, precision, start-of-scan offset); raises if the frame header is
    missing, i.e. the file is not a JPEG or is truncated before the image data.
    """
    if f.read(2) != b"\xff\xd8":
        raise RadiographError(path, "corrupt JPEG: missing start-of-image marker")
    frame = None
    while True:
        byte = f.read(1)
        if not byte:
            raise RadiographError(path, "truncated JPEG: ends before the image data")
        if byte != b"\xff":
            raise RadiographError(path, f"corrupt JPEG: expected a marker at byte {f.tell() - 1}")
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            raise RadiographError(path, "truncated JPEG: ends before the image data")
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD8:
            continue  # stand-alone markers carry no length
        if code == 0xD9:
            raise RadiographError(path, "corrupt JPEG: end-of-image marker before any image data")
        raw = f.read(2)
        if len(raw) < 2:
            raise RadiographError(path, "truncated JPEG: ends inside a marker segment")
        length = struct.unpack(">H", raw)[0]
        if length < 2:
            raise RadiographError(path, f"corrupt JPEG: invalid segment length at byte {f.tell() - 2}")
        if code in _SOF_MARKERS:
            body = f.read(5)
            if len(body) < 5:
                raise RadiographError(path, "truncated JPEG: ends inside the frame header")
            precision, height, width = struct.unpack(">BHH", body)
            check_dimensions(path, width, height)
            frame = (width, height, precision)
            f.seek(length - 7, 1)
            continue
        if code == 0xDA:
            if frame is None:
                raise RadiographError(path, "corrupt JPEG: image data before the frame header")
            return (*frame, f.tell())
        f.seek(length - 2, 1)


def jpeg_header(path: Path) -> ImageHeader:
    try:
        with open(path, "rb") as f:
            width, height, precision, _ = _jpeg_scan(path, f)
    except OSError as exc:
        raise RadiographError(path, f"cannot read file: {exc.strerror or exc}") from None
    return ImageHeader(width=width, height=height, bit_depth=precision, format="jpeg")


def _tiff_page_info(path: Path, page) -> tuple[int, int, int]:
    width, height = int(page.imagewidth), int(page.imagelength)
    check_dimensions(path, width, height)
    bits = page.bitspersample
    bits = int(bits[0] if isinstance(bits, tuple) else bits)
    return width, height, bits


def tiff_header(path: Path) -> ImageHeader:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tf:
            width, height, bits = _tiff_page_info(path, tf.pages.first)
    except RadiographError:
        raise
    except Exception as exc:  # tifffile raises a zoo of types on corrupt files
        raise RadiographError(path, f"corrupt TIFF: {exc}") from None
    return ImageHeader(width=width, height=height, bit_depth=bits, format="tiff")


# ---------------------------------------------------------------- decoding


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RadiographError(path, f"cannot read file: {exc.strerror or exc}") from None


def decode_png_jpeg(path: Path, fmt: str, max_side: int | None) -> Decoded:
    """PNG or JPEG to float32 gray at full bit depth, shrunk natively by 2/4/8 when allowed."""
    import cv2

    data = _read_bytes(path)
    if fmt == "png":
        header = png_header(path, data[:33])
    else:
        width, height, precision, sos = _jpeg_scan(path, io.BytesIO(data))
        # An entropy-coded scan never contains 0xFFD9 (0xFF is byte-stuffed), so a missing
        # end-of-image marker after the first scan means the file was cut short; some decoders
        # would silently fill the rest with grey.
        if data.rfind(b"\xff\xd9") < sos:
            raise RadiographError(path, "truncated JPEG: no end-of-image marker")
        header = ImageHeader(width=width, height=height, bit_depth=precision, format="jpeg")
    k = reduction_factor(header.height, header.width, max_side)
    reduced = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
               4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}[k]
    flags = reduced | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if pixels is None:
        pixels = _pil_decode(path, data, fmt)
    return Decoded(
        pixels=pixels,
        format=fmt,
        bit_depth=header.bit_depth,
        full_size=(header.height, header.width),
    )


def _pil_decode(path: Path, data: bytes, fmt: str) -> np.ndarray:
    """Pillow as the second opinion: decodes what OpenCV refused, or names the reason."""
    from PIL import Image

    name = fmt.upper()
    try:
        # catch_warnings is process-global; acceptable because this path only runs for
        # files OpenCV already rejected, and Pillow's bomb check is a warning by default.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if im.mode in ("I;16", "I;16B", "I;16L", "I", "F", "L"):
                    arr = np.asarray(im)
                else:
                    arr = np.asarray(im.convert("L"))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise RadiographError(path, f"refused by Pillow's decompression-bomb limit: {exc}") from None
    except Exception as exc:  # Pillow signals corrupt data with OSError, SyntaxError, ValueError...
        reason = str(exc) or type(exc).__name__
        raise RadiographError(path, f"corrupt or truncated {name} file ({reason})") from None
    return to_gray(arr)


def decode_tiff(path: Path) -> Decoded:
    """First page of a TIFF at full depth; MINISWHITE inverted so that bone is bright."""
    import tifffile

    metadata: dict[str, str] = {}
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages.first
            width, height, bits = _tiff_page_info(path, page)
            n_pages = len(tf.pages)
            photometric = int(page.photometric)
            try:
                arr = page.asarray()
            except (KeyError, ValueError) as exc:
                if "imagecodecs" not in str(exc):
                    raise
                arr = _cv2_tiff(path)  # libtiff in OpenCV has LZW, JPEG, PackBits
            else:
                if photometric == 3 and page.colormap is not None:  # PALETTE
                    arr = np.moveaxis(page.colormap[:, arr], 0, -1)
                elif arr.ndim == 3 and int(page.planarconfig) == 2:  # SEPARATE planes: (S, H, W)
                    arr = np.moveaxis(arr, 0, -1)
                arr = to_gray(arr)
                if photometric == 0:  # MINISWHITE
                    arr = _invert(arr, bits)
    except RadiographError:
        raise
    except Exception as exc:
        raise RadiographError(path, f"corrupt or unsupported TIFF ({exc})") from None
    if n_pages > 1:
        metadata["Frames"] = f"{n_pages} (first shown)"
    if arr.shape != (height, width):
        raise RadiographError(path, f"TIFF decoded to shape {arr.shape}, header says {height} x {width}")
    return Decoded(pixels=arr, format="tiff", bit_depth=bits, full_size=(height, width), metadata=metadata)


def _cv2_tiff(path: Path) -> np.ndarray:
    import cv2

    arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None:
        raise RadiographError(
            path, "cannot decode this TIFF compression: install 'imagecodecs' for tifffile"
        )
    return to_gray(arr, order="BGR")


def _invert(arr: np.ndarray, bits: int) -> np.ndarray:
    if np.issubdtype(arr.dtype, np.unsignedinteger):
        return (np.iinfo(arr.dtype).max >> (arr.dtype.itemsize * 8 - bits)) - arr
    return (float(arr.max()) + float(arr.min())) - arr.astype(np.float32)
