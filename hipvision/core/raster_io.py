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


# Deflate cannot compress better than ~1032:1 (a 258-byte match in about 2 bits), so pixel
# data shorter than its raw size / _DEFLATE_MAX_RATIO cannot hold the image the header claims.
_DEFLATE_MAX_RATIO = 1100
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_header(path: Path, head: bytes) -> ImageHeader:
    if len(head) < 33 or head[12:16] != b"IHDR" or struct.unpack(">I", head[8:12])[0] != 13:
        raise RadiographError(path, "corrupt PNG: missing or malformed IHDR header")
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise RadiographError(path, "corrupt PNG: IHDR checksum mismatch")
    width, height, depth = struct.unpack(">IIB", head[16:25])
    check_dimensions(path, width, height)
    return ImageHeader(width=width, height=height, bit_depth=16 if depth == 16 else 8, format="png")


def _png_idat_bytes(f) -> int:
    """Bytes of compressed pixel data (all IDAT chunks) in an open PNG, read chunk headers only."""
    total = 0
    f.seek(8)
    while True:
        raw = f.read(8)
        if len(raw) < 8:
            return total
        length, kind = struct.unpack(">I4s", raw)
        if kind == b"IDAT":
            start = f.tell()
            f.seek(0, io.SEEK_END)
            total += min(length, f.tell() - start)  # a chunk cut short counts what is there
            f.seek(start)
        elif kind == b"IEND":
            return total
        f.seek(length + 4, io.SEEK_CUR)


def _png_idat_or_truncated(path: Path, f) -> int:
    total = _png_idat_bytes(f)
    if not _png_has_iend(f):
        raise RadiographError(path, "truncated PNG: the file ends before its IEND chunk")
    return total


def _png_has_iend(f) -> bool:
    f.seek(-12, io.SEEK_END)
    return f.read(12)[4:8] == b"IEND"


def _check_png_data(path: Path, head: bytes, idat: int) -> None:
    """Refuse a PNG whose pixel data is far too short for its header's size (truncated, or a
    forged header): decoders would pad it, or allocate the claimed size for nothing."""
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    raw = height * -(-width * _PNG_CHANNELS.get(color, 1) * depth // 8)
    if idat * _DEFLATE_MAX_RATIO < raw:
        raise RadiographError(
            path, f"truncated or corrupt PNG: {idat:,} bytes of pixel data cannot hold the "
                  f"{width} x {height} px the header claims"
        )


def png_file_header(path: Path, head: bytes) -> ImageHeader:
    """The header, checked against the amount of pixel data in the file."""
    header = png_header(path, head)
    try:
        with open(path, "rb") as f:
            idat = _png_idat_or_truncated(path, f)
    except OSError as exc:
        raise RadiographError(path, f"cannot read file: {exc.strerror or exc}") from None
    _check_png_data(path, head, idat)
    return header


# Huffman-coded frames (baseline, extended, progressive, lossless) whose data can be bounded:
# every 8 x 8 block of every component has its DC difference coded at least once, and a
# Huffman code is at least one bit long. (Arithmetic coding and hierarchical frames escape it.)
_HUFFMAN_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3})


def _jpeg_min_bits(body: bytes, width: int, height: int) -> int:
    """Least number of entropy-coded bits a frame of this size can take (0: no bound known)."""
    n = body[0] if body else 0
    comps = [(body[2 + 3 * i] >> 4, body[2 + 3 * i] & 15) for i in range(n) if 3 + 3 * i <= len(body)]
    if not comps or any(h == 0 or v == 0 for h, v in comps):
        return 0
    hmax, vmax = max(h for h, _ in comps), max(v for _, v in comps)
    return sum(_ceil_div(_ceil_div(width * h, hmax), 8) * _ceil_div(_ceil_div(height * v, vmax), 8)
               for h, v in comps)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _check_jpeg_data(path: Path, width: int, height: int, min_bits: int, data_bytes: int) -> None:
    if data_bytes * 8 < min_bits:
        raise RadiographError(
            path, f"truncated or corrupt JPEG: {data_bytes:,} bytes of image data cannot hold the "
                  f"{width} x {height} px the header claims (at least {-(-min_bits // 8):,} needed)"
        )


def _jpeg_scan(path: Path, f) -> tuple[int, int, int, int]:
    """Walk the JPEG marker segments up to the first scan.

    Returns (width, height, precision, start-of-scan offset); raises if the frame header is
    missing, i.e. the file is not a JPEG or is truncated before the image data, or when the
    rest of the file is far too short for the size the frame header claims.
    """
    min_bits = 0
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
            components = f.read(max(length - 7, 0))
            if code in _HUFFMAN_SOF:
                min_bits = _jpeg_min_bits(components, width, height)
            continue
        if code == 0xDA:
            if frame is None:
                raise RadiographError(path, "corrupt JPEG: image data before the frame header")
            sos = f.tell()
            f.seek(0, io.SEEK_END)
            _check_jpeg_data(path, frame[0], frame[1], min_bits, f.tell() - sos)
            return (*frame, sos)
        f.seek(length - 2, 1)


def _check_jpeg_end(path: Path, data: bytes, sos: int) -> None:
    # An entropy-coded scan never contains 0xFFD9 (0xFF is byte-stuffed), so a missing
    # end-of-image marker after the first scan means the file was cut short; some decoders
    # would silently fill the rest with grey.
    if data.rfind(b"\xff\xd9") < sos:
        raise RadiographError(path, "truncated JPEG: no end-of-image marker")


def jpeg_header(path: Path) -> ImageHeader:
    """The frame header, checked against the image data that follows it (a folder import
    hashes every byte anyway, so reading the whole file here costs little more)."""
    data = _read_bytes(path)
    width, height, precision, sos = _jpeg_scan(path, io.BytesIO(data))
    _check_jpeg_end(path, data, sos)
    return ImageHeader(width=width, height=height, bit_depth=precision, format="jpeg")


def _tiff_page_info(path: Path, page) -> tuple[int, int, int]:
    width, height = int(page.imagewidth), int(page.imagelength)
    bits = page.bitspersample
    bits = int(bits[0] if isinstance(bits, tuple) else bits)
    # tifffile decodes every channel at once (a 16-bit RGBA page: 8 bytes per pixel)
    check_dimensions(path, width, height, sample_bytes=int(page.samplesperpixel) * -(-bits // 8))
    return width, height, bits


def _check_tiff_data(path: Path, page, file_size: int, *, values: bool = True) -> None:
    """Header-level checks a folder import can afford: the pixel data lies inside the file,
    and a float page (rare; NaN and infinity are only visible in the values) is finite."""
    ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts) if n]
    if ends and max(ends) > file_size:
        raise RadiographError(path, f"truncated TIFF: its pixel data runs to byte {max(ends):,}, "
                                    f"the file has {file_size:,}")
    bits = page.bitspersample
    bits = int(bits[0] if isinstance(bits, tuple) else bits)
    need = int(page.imagelength) * -(-int(page.imagewidth) * int(page.samplesperpixel) * bits // 8)
    if int(page.compression) == 1 and sum(page.databytecounts) < need:  # uncompressed: exact
        raise RadiographError(path, f"truncated or corrupt TIFF: {sum(page.databytecounts):,} bytes of pixel "
                                    f"data cannot hold the {page.imagewidth} x {page.imagelength} px "
                                    f"the header claims")
    if values and int(page.sampleformat) == 3:  # IEEEFP (decoding checks the values itself)
        with np.errstate(invalid="ignore"):
            arr = page.asarray()
            if not (np.isfinite(np.min(arr)) and np.isfinite(np.max(arr))):
                raise RadiographError(path, "pixel values are not finite (NaN or infinity; "
                                            "a float image with NaN, or a DICOM rescale that overflows)")


def tiff_header(path: Path) -> ImageHeader:
    import tifffile

    _quiet_tifffile()
    try:
        with tifffile.TiffFile(path) as tf:
            width, height, bits = _tiff_page_info(path, tf.pages.first)
            _check_tiff_data(path, tf.pages.first, path.stat().st_size)
    except RadiographError:
        raise
    except Exception as exc:  # tifffile raises a zoo of types on corrupt files
        raise RadiographError(path, f"corrupt TIFF: {_tiff_reason(exc)}") from None
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
        _check_png_data(path, data[:33], _png_idat_or_truncated(path, io.BytesIO(data)))
    else:
        width, height, precision, sos = _jpeg_scan(path, io.BytesIO(data))
        _check_jpeg_end(path, data, sos)
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

    _quiet_tifffile()
    metadata: dict[str, str] = {}
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages.first
            width, height, bits = _tiff_page_info(path, page)
            _check_tiff_data(path, page, path.stat().st_size, values=False)
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
        raise RadiographError(path, f"corrupt or unsupported TIFF ({_tiff_reason(exc)})") from None
    if n_pages > 1:
        metadata["Frames"] = f"{n_pages} (first shown)"
    if arr.shape != (height, width):
        raise RadiographError(path, f"TIFF decoded to shape {arr.shape}, header says {height} x {width}")
    return Decoded(pixels=arr, format="tiff", bit_depth=bits, full_size=(height, width), metadata=metadata)


def _tiff_reason(exc: Exception) -> str:
    """tifffile's exception text, or what it means when the text is only an index ('0')."""
    text = str(exc).strip()
    if isinstance(exc, (IndexError, KeyError)) or not text or text.isdigit():
        return "no readable image page"
    return text


def _quiet_tifffile():
    """tifffile logs each oddity it meets as a warning on stderr; the RadiographError that
    follows already names the file and the reason, so the log line would only repeat it."""
    import logging

    logging.getLogger("tifffile").setLevel(logging.ERROR)


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
