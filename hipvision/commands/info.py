"""`hipvision info IMAGE [IMAGE...] [--json]`: what HipVision reads from radiograph files."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "info",
        help="show size, bit depth, spacing, modality, window and value range of radiographs",
        description="Decode each image as the app does and print what was read. Unreadable "
        "files are reported on stderr with the reason; the exit status is then 2.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, TIFF or DICOM file")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout instead of text")
    p.set_defaults(func=run)


def describe(radiograph) -> dict:
    """The facts `info` prints, as plain JSON-able values."""
    from hipvision.core.windowing import default_window

    lo, hi = radiograph.value_range
    centre, width = default_window(radiograph)
    return {
        "path": str(radiograph.path),
        "format": radiograph.format,
        "width": radiograph.full_size[1],
        "height": radiograph.full_size[0],
        "bit_depth": radiograph.bit_depth,
        "spacing_mm": list(radiograph.spacing) if radiograph.spacing else None,
        "modality": radiograph.modality,
        "window": {"centre": centre, "width": width,
                   "source": "file" if radiograph.window is not None else "auto"},
        "value_range": [lo, hi],
        "metadata": dict(radiograph.metadata),
    }


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _text(d: dict) -> str:
    spacing = d["spacing_mm"]
    w = d["window"]
    lines = [
        d["path"],
        f"  size         {d['width']} x {d['height']} px (W x H)",
        f"  bit depth    {d['bit_depth']}",
        "  spacing      " + (f"{_fmt(spacing[0])} x {_fmt(spacing[1])} mm/px (row x col)"
                            if spacing else "unknown"),
        f"  modality     {d['modality'] or '-'}",
        f"  format       {d['format']}",
        f"  window       centre {_fmt(w['centre'])}, width {_fmt(w['width'])}"
        + (" (from the file)" if w["source"] == "file" else " (automatic, 0.5-99.5 %)"),
        f"  value range  {_fmt(d['value_range'][0])} .. {_fmt(d['value_range'][1])}",
    ]
    if d["metadata"]:
        lines.append("  metadata")
        width = max(len(key) for key in d["metadata"])
        lines += [f"    {key:<{width}s}  {value}" for key, value in d["metadata"].items()]
    return "\n".join(lines)


def run(args) -> int:
    from hipvision.core.radiograph import RadiographError, load_radiograph

    results, failed = [], 0
    for image in args.images:
        try:
            info = describe(load_radiograph(image))
        except RadiographError as exc:
            failed += 1
            print(f"hipvision info: error: {exc}", file=sys.stderr)
            if args.json:
                results.append({"path": str(image), "error": exc.reason})
            continue
        results.append(info)
        if not args.json:
            print(_text(info))
    if args.json:
        print(json.dumps(results, indent=2))
    return 2 if failed else 0
