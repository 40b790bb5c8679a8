"""`hipvision bench NAME`: the speed and memory benchmarks (see hipvision/bench/)."""

from __future__ import annotations

import importlib
import pkgutil

from hipvision import bench

_SKIP = {"timing", "robustness_corpus", "robustness_runner"}  # helper modules, not benchmarks


def _benchmarks():
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _SKIP:
            continue
        yield info.name, importlib.import_module(f"hipvision.bench.{info.name}")


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark (medians and ratios from one run)")
    bsub = p.add_subparsers(dest="benchmark", metavar="NAME", required=True)
    for name, module in _benchmarks():
        bp = bsub.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        module.add_arguments(bp)
        bp.set_defaults(func=module.run)
