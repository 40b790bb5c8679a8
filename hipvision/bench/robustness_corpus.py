"""The robustness corpus of issue #16: malformed images and hostile label files beside valid
phantoms (no Qt; deterministic; every file small except the two memory cases).

Layout under the corpus root:
  images/          valid phantoms beside every odd image file (`BAD_IMAGES`, `VALID_ODD`)
  labels/KIND/     valid phantoms beside one hostile annotations.json or truth.csv (`LABEL_KINDS`)
  outside.png      the target of images/link_out.png (a symlink out of the folder)

What each command must do with each file is data here, so the bench runner and the tests
check the same expectations.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The two files of the item 9.
HUGE_PNG_SIDE = 15_811  # 16-bit RGBA, ~1.9 MB on disk, 250 MP (4 GB as RGBA16 + float copies)
LYING_JPEG_SIDE = 15_000  # the header's claim; the scan holds 512 x 512 px

ALL_COMMANDS = frozenset({"import", "predict", "info", "gui"})
FOLDER_COMMANDS = frozenset({"import", "predict"})  # those that walk the folder


@dataclass(frozen=True)
class BadImage:
    """An image file the commands in `named_by` must name (with a reason) and not take in."""

    name: str  # the file name as printed (non-UTF-8 bytes as \\xff)
    named_by: frozenset[str] = ALL_COMMANDS
    memory_case: bool = False  # one of the two memory files
    # Never taken into a project whatever it holds (a name that is not UTF-8, a symlink out):
    # `gui FILE` opens the folder, says why in the banner and on stderr, and exits 2.
    refused: bool = False

    def __post_init__(self):
        if not self.name or "/" in self.name:
            raise ValueError(f"name: a plain file name, got {self.name!r}")
        if not self.named_by <= ALL_COMMANDS:
            raise ValueError(f"named_by: unknown commands {sorted(self.named_by - ALL_COMMANDS)}")


@dataclass(frozen=True)
class LabelKind:
    """A hostile label file: `entry` is what the import names ('' = the whole file), and
    `labelled` how many of the N_LABEL_IMAGES phantoms keep their labels."""

    kind: str
    label_file: str  # annotations.json | truth.csv
    entry: str
    labelled: int
    measure_rc: int | None = None  # truth.csv kinds: the exit status `measure` must give

    def __post_init__(self):
        if self.label_file not in ("annotations.json", "truth.csv"):
            raise ValueError(f"label_file: annotations.json or truth.csv, got {self.label_file!r}")
        if not 0 <= self.labelled <= N_LABEL_IMAGES:
            raise ValueError(f"labelled: 0..{N_LABEL_IMAGES}, got {self.labelled}")


@dataclass(frozen=True)
class CorpusConfig:
    size: int = 192  # phantom side in px: small, so the runs measure robustness, not speed
    n_valid: int = 3  # valid phantoms in images/ (besides VALID_ODD)
    seed: int = 7
    memory_cases: bool = True  # the 15,811² PNG takes ~10 s to compress; tests leave it out
    bad: tuple[str, ...] | None = None  # a subset of BAD_IMAGES by name (None: all)
    label_kinds: tuple[str, ...] | None = None  # a subset of LABEL_KINDS (None: all)
    valid_odd: tuple[str, ...] | None = None  # a subset of VALID_ODD (None: all)

    def __post_init__(self):
        if not 64 <= self.size <= 1024:
            raise ValueError(f"size: 64..1024 px, got {self.size}")
        if not 1 <= self.n_valid <= 20:
            raise ValueError(f"n_valid: 1..20, got {self.n_valid}")
        for name in self.bad or ():
            if name not in BAD_IMAGES:
                raise ValueError(f"bad: unknown odd image {name!r}")
        for name in self.valid_odd or ():
            if name not in VALID_ODD:
                raise ValueError(f"valid_odd: unknown odd valid image {name!r}")
        for kind in self.label_kinds or ():
            if kind not in LABEL_KINDS:
                raise ValueError(f"label_kinds: unknown kind {kind!r}")


@dataclass(frozen=True)
class Corpus:
    root: Path
    images: Path
    valid: tuple[str, ...]  # file names in images/ every command must take in
    bad: tuple[BadImage, ...]
    label_folders: tuple[tuple[LabelKind, Path], ...] = field(default=())


# ---------------------------------------------------------------- odd image files


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_stream(path: Path, width: int, height: int, *, bit_depth: int = 8, color_type: int = 0,
                     row: bytes | None = None) -> None:
    """A PNG of `height` copies of one row, compressed as a stream: a 250-MP image is written
    without holding it in memory."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row_bytes = width * channels * bit_depth // 8
    line = b"\x00" + (row if row is not None else bytes(row_bytes))  # filter 'None'
    comp = zlib.compressobj(9)
    parts = [comp.compress(line) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr))
        f.write(_png_chunk(b"IDAT", b"".join(parts)))
        f.write(_png_chunk(b"IEND", b""))


def write_lying_jpeg(path: Path, side: int = LYING_JPEG_SIDE, data_side: int = 512) -> None:
    """A baseline JPEG of data_side² px whose frame header claims side² px: decoders pad the
    rest with grey and allocate the full claimed size."""
    import cv2

    yy, xx = np.mgrid[0:data_side, 0:data_side]
    img = ((xx + yy) % 256).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    data = bytearray(buf.tobytes())
    i = 2
    while i < len(data):  # find the SOF0 segment and rewrite its height and width
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xC0:
            data[i + 5:i + 9] = struct.pack(">HH", side, side)
            break
        i += 2 + length
    path.write_bytes(bytes(data))


def _phantom_pixels(source: Path) -> np.ndarray:
    import cv2

    return cv2.imread(str(source), cv2.IMREAD_UNCHANGED)


def _garbage(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _write_bad(images: Path, name: str, source: Path, outside: Path) -> None:
    """Write the odd file `name` into `images`; `source` is a valid phantom PNG there."""
    import cv2
    import tifffile

    from hipvision.core.dicom_write import write_dicom

    png = source.read_bytes()
    pixels = _phantom_pixels(source)
    target = images / name
    stored = np.full((64, 64), 200, np.uint16)
    if name == "truncated.png":
        target.write_bytes(png[: len(png) // 2])
    elif name == "empty.png":
        target.write_bytes(b"")
    elif name == "garbage.png":
        target.write_bytes(b"\x89PNG\r\n\x1a\n" + _garbage(4000, 1))
    elif name in ("truncated.jpg", "no_eoi.jpg"):
        jpg = cv2.imencode(".jpg", (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels)[1]
        data = jpg.tobytes()
        target.write_bytes(data[: len(data) // 2] if name == "truncated.jpg" else data[:-2])
    elif name == "garbage.jpg":
        target.write_bytes(b"\xff\xd8\xff" + _garbage(4000, 2))
    elif name == "truncated.tif":
        tifffile.imwrite(target, pixels)
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif name == "garbage.tif":
        target.write_bytes(b"II*\x00" + _garbage(4000, 3))
    elif name == "truncated.dcm":
        write_dicom(target, pixels.astype(np.uint16), spacing=(0.1, 0.1))
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif name == "garbage.dcm":
        target.write_bytes(bytes(128) + b"DICM" + _garbage(4000, 4))
    elif name == "text_named.png":
        target.write_text("not an image, only a name that says so\n")
    elif name in ("nan.tif", "inf.tif"):
        arr = np.full((64, 64), 100.0, np.float32)
        arr[10, 10] = np.nan if name == "nan.tif" else np.inf
        tifffile.imwrite(target, arr)
    elif name == "nan_slope.dcm":
        write_dicom(target, stored, spacing=(0.1, 0.1), extra={"RescaleSlope": float("nan")})
    elif name == "huge_slope.dcm":
        write_dicom(target, stored, spacing=(0.1, 0.1), extra={"RescaleSlope": 1e38})  # overflows float32
    elif name == "huge_rgba16.png":
        write_png_stream(target, HUGE_PNG_SIDE, HUGE_PNG_SIDE, bit_depth=16, color_type=6)
    elif name == "lying_header.jpg":
        write_lying_jpeg(target)
    elif name == "lying_8000.jpg":  # under the size limit: only the data check can tell
        write_lying_jpeg(target, side=8000)
    elif name == "lying_8000.png":
        ihdr = png[12:16] + struct.pack(">II", 8000, 8000) + png[24:29]
        target.write_bytes(png[:8] + png[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:])
    elif name == "strip_1x100000.png":
        write_png_stream(target, 100_000, 1)
    elif name == "folder.png":
        target.mkdir()
        # a directory named like an image: the folder walks look inside, info names it
    elif name == "link_out.png":
        outside.write_bytes(png)
        target.symlink_to(outside)
    elif name == "bad\\xff.png":
        with open(os.path.join(os.fsencode(str(images)), b"bad\xff.png"), "wb") as f:
            f.write(png)  # a valid image: only its name is bad
    else:  # pragma: no cover (BAD_IMAGES and this function are kept in step)
        raise ValueError(f"no recipe for odd image {name!r}")


BAD_IMAGES: dict[str, BadImage] = {b.name: b for b in (
    BadImage("truncated.png"), BadImage("empty.png"), BadImage("garbage.png"),
    BadImage("truncated.jpg"), BadImage("no_eoi.jpg"), BadImage("garbage.jpg"),
    BadImage("truncated.tif"), BadImage("garbage.tif"), BadImage("truncated.dcm"), BadImage("garbage.dcm"),
    BadImage("text_named.png"), BadImage("nan.tif"), BadImage("inf.tif"),
    BadImage("nan_slope.dcm"), BadImage("huge_slope.dcm"),
    BadImage("huge_rgba16.png", memory_case=True), BadImage("lying_header.jpg", memory_case=True),
    BadImage("lying_8000.jpg"), BadImage("lying_8000.png"),
    BadImage("strip_1x100000.png"),
    BadImage("folder.png", named_by=frozenset({"info"})),  # a folder walk looks inside it
    BadImage("link_out.png", named_by=frozenset({"import"}), refused=True),  # predict may follow it
    BadImage("bad\\xff.png", named_by=FOLDER_COMMANDS, refused=True),  # info gets a name fine as given
)}

# Odd but valid: every command must take these in like the phantoms.
VALID_ODD = ("png_named.dcm", "one_pixel.png", "multipage.tif", "multiframe.dcm", "gray16.tiff")


def _write_valid_odd(images: Path, name: str, source: Path) -> None:
    import tifffile

    from hipvision.core.dicom_write import write_dicom

    pixels = _phantom_pixels(source)
    target = images / name
    if name == "png_named.dcm":
        shutil.copyfile(source, target)  # content decides, not the name
    elif name == "one_pixel.png":
        write_png_stream(target, 1, 1, row=b"\x80")
    elif name == "multipage.tif":
        tifffile.imwrite(target, np.stack([pixels, pixels[::-1]]))
    elif name == "multiframe.dcm":
        path = images / "_single.dcm"
        write_dicom(path, pixels.astype(np.uint16), spacing=(0.1, 0.1))
        import pydicom

        ds = pydicom.dcmread(path)
        ds.NumberOfFrames = 2
        ds.PixelData = ds.PixelData * 2
        ds.save_as(target)
        path.unlink()
    elif name == "gray16.tiff":
        tifffile.imwrite(target, pixels.astype(np.uint16))
    else:  # pragma: no cover
        raise ValueError(f"no recipe for valid odd image {name!r}")


# ---------------------------------------------------------------- hostile label files

N_LABEL_IMAGES = 3
DELETE = object()  # as a value for set_path: remove the key
_KP = ("annotations", 0, "keypoints")


def set_path(path: tuple, value) -> Callable[[dict], None]:
    """A corruption of a COCO document: data[path...] = value (DELETE removes the key)."""
    def corrupt(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return corrupt


def _string_keypoints(d: dict) -> None:
    d["annotations"][0]["keypoints"] = [str(v) for v in d["annotations"][0]["keypoints"]]


# kind -> (LabelKind, how to corrupt): a dict -> None for COCO, a text for a whole file,
# lines -> lines for truth.csv
_J, _C = "annotations.json", "truth.csv"
_LABEL_RECIPES: dict[str, tuple[LabelKind, object]] = {
    k.kind: (k, recipe) for k, recipe in (
        (LabelKind("annotations_null", _J, "annotations", 0), set_path(("annotations",), None)),
        (LabelKind("annotations_ints", _J, "annotations[3]", 3), lambda d: d["annotations"].extend([1, 2])),
        (LabelKind("missing_file_name", _J, "image 1", 2), set_path(("images", 0, "file_name"), DELETE)),
        (LabelKind("width_null", _J, "", 3), set_path(("images", 0, "width"), None)),  # unknown size: fine
        (LabelKind("scalar_spacing", _J, "image 1", 2), set_path(("images", 0, "pixel_spacing_mm"), 0.2)),
        (LabelKind("huge_spacing", _J, "image 1", 2), set_path(("images", 0, "pixel_spacing_mm"), [1e300, 1e300])),
        (LabelKind("string_false", _J, "image 1", 2), set_path(("images", 0, "right_on_image_left"), "false")),
        (LabelKind("big_int", _J, "annotation 1", 2), set_path((*_KP, 0), 10**400)),
        (LabelKind("huge_coordinate", _J, "annotation 1", 2), set_path((*_KP, 1), 1e308)),
        (LabelKind("negative_coordinate", _J, "annotation 1", 2), set_path((*_KP, 3), -1e308)),
        (LabelKind("nan_coordinate", _J, "annotation 1", 2), set_path((*_KP, 0), math.nan)),
        (LabelKind("string_keypoints", _J, "annotation 1", 2), _string_keypoints),
        (LabelKind("nul_in_file_name", _J, "image 1", 2), set_path(("images", 0, "file_name"), "phantom_0000\x00.png")),
        (LabelKind("nested_brackets", _J, "", 0), "[" * 200_000),
        (LabelKind("list_of_one", _J, "", 0), "[1]\n"),
        (LabelKind("nul_byte", _J, "", 0), '{"images": [\x00]}'),
        (LabelKind("csv_only_image", _C, "line 8", 3, 2), lambda ls: [*ls, "phantom_0000.png"]),
        (LabelKind("csv_overlong_field", _C, "line 8", 3, 2), lambda ls: [*ls, "x" * 200_000 + ",left,1,2,3,4,5"]),
        (LabelKind("csv_nul_byte", _C, "line 8", 3, 2),
         lambda ls: [*ls, "a\x00.png,left,10,10,3,12,8", "a\x00.png,right,50,10,3,48,8"]),
        (LabelKind("csv_nan_value", _C, "line 2", 2, 2),
         lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[2], "nan", 1), *ls[2:]]),
    )
}
LABEL_KINDS: dict[str, LabelKind] = {name: kind for name, (kind, _) in _LABEL_RECIPES.items()}


def write_label_kind(folder: Path, kind: str) -> None:
    """Corrupt the label files of a phantom folder (made by generate_phantoms) as `kind` says;
    a truth.csv kind removes annotations.json, so truth.csv is the file read."""
    spec, recipe = _LABEL_RECIPES[kind]
    coco = folder / "annotations.json"
    if spec.label_file == "truth.csv":
        lines = (folder / "truth.csv").read_text().splitlines()
        coco.unlink()
        (folder / "truth.csv").write_text("\n".join(recipe(lines)) + "\n")  # type: ignore[operator]
    elif isinstance(recipe, str):
        coco.write_text(recipe)
    else:
        data = json.loads(coco.read_text())
        recipe(data)  # type: ignore[operator]
        coco.write_text(json.dumps(data))


# ---------------------------------------------------------------- the whole corpus


def build_corpus(root: str | os.PathLike, config: CorpusConfig = CorpusConfig()) -> Corpus:
    """Write the corpus under `root` (emptied first) and say what each file is."""
    from hipvision.phantom import PhantomConfig, generate_phantoms

    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    images = root / "images"
    images.mkdir(parents=True)
    phantom = PhantomConfig(size=config.size)
    generate_phantoms(images, config.n_valid, seed=config.seed, config=phantom)
    (images / "annotations.json").unlink()  # the image folder tests images; labels/ tests labels
    (images / "truth.csv").unlink()
    valid = sorted(p.name for p in images.iterdir())
    source = images / valid[0]
    valid_odd = config.valid_odd if config.valid_odd is not None else VALID_ODD
    for name in valid_odd:
        _write_valid_odd(images, name, source)
    bad_names = config.bad if config.bad is not None else tuple(BAD_IMAGES)
    if not config.memory_cases:
        bad_names = tuple(n for n in bad_names if not BAD_IMAGES[n].memory_case)
    for name in bad_names:
        _write_bad(images, name, source, root / "outside.png")

    template = root / "_labels_template"
    generate_phantoms(template, N_LABEL_IMAGES, seed=config.seed + 1, config=phantom)
    folders = []
    for kind in config.label_kinds if config.label_kinds is not None else tuple(LABEL_KINDS):
        folder = root / "labels" / kind
        shutil.copytree(template, folder)
        write_label_kind(folder, kind)
        folders.append((LABEL_KINDS[kind], folder))
    shutil.rmtree(template)
    return Corpus(root=root, images=images, valid=tuple(valid) + tuple(valid_odd),
                  bad=tuple(BAD_IMAGES[n] for n in bad_names), label_folders=tuple(folders))
