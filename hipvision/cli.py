"""The `hipvision` command line.

Each subcommand lives in its own module under `hipvision/commands/` exposing
`register(subparsers)`; the module sets `func` on its parser. Command modules import heavy
libraries (torch, Qt) inside `func` only, so `hipvision --version` and `--help` stay instant.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import hipvision
from hipvision import commands


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipvision",
        description="Norberg-angle measurement and model training for canine VD hip radiographs.",
    )
    parser.add_argument("--version", action="version", version=f"hipvision {hipvision.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"hipvision.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from hipvision.core.interchange import InterchangeError
    from hipvision.core.radiograph import RadiographError
    from hipvision.core.store import StoreError

    try:
        rc = args.func(args)
    except (CommandError, RadiographError, StoreError, InterchangeError, FileNotFoundError, ValueError) as exc:
        print(f"hipvision {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A full disk, a read-only folder, no permission: one line naming the file, never a traceback.
        # (Atomic writes raise WriteError, whose text is already `cannot write PATH: reason`.)
        print(f"hipvision {args.command}: error: {_os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hipvision {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


def _os_error_line(exc: OSError) -> str:
    from hipvision.core.atomic import WriteError

    if isinstance(exc, WriteError) or exc.filename is None:
        return str(exc)
    return f"{exc.filename}: {exc.strerror or exc}"


def gui_main() -> int:
    """Entry point of the desktop launcher (`hipvision-gui`): the GUI with no terminal."""
    return main(["gui", *sys.argv[1:]])
