"""The `hipvision` command line.

Each subcommand lives in its own module under `hipvision/commands/` exposing
`register(subparsers)`; the module sets `func` on its parser. Command modules import heavy
libraries (torch, Qt) inside `func` only, so `hipvision --version` and `--help` stay instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import warnings
from contextlib import contextmanager

import hipvision
from hipvision import commands


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


class _WarningLines(logging.Handler):
    """Library warnings as `hipvision CMD: warning: TEXT` lines, each text once: a pydicom,
    tifffile or numpy warning is printed by Python as a source path and a code line, which then
    sit on top of the command's one-line error as if they were part of it."""

    def __init__(self, command: str):
        super().__init__(logging.WARNING)
        self.command = command
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.line(record.getMessage())
        except Exception:  # noqa: BLE001 - a warning must never end the command
            self.handleError(record)

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:
        """warnings.showwarning's signature; the path and code line are left out."""
        self.line(str(message))

    def line(self, text: str) -> None:
        text = " ".join(text.split())  # one line, whatever the library put in
        if text and text not in self.seen:  # pydicom both warns and logs the same text
            self.seen.add(text)
            print(f"hipvision {self.command}: warning: {text}", file=sys.stderr, flush=True)


@contextmanager
def warning_lines(command: str):
    """While a command runs, warnings (the warnings module, library loggers) print one line each."""
    handler = _WarningLines(command)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():  # restores showwarning afterwards
            warnings.showwarning = handler.show
            yield
    finally:
        root.removeHandler(handler)


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
    from hipvision.pacs.server import PacsError

    try:
        with warning_lines(args.command):
            rc = args.func(args)
    except (CommandError, RadiographError, StoreError, InterchangeError, PacsError, FileNotFoundError,
            ValueError) as exc:
        print(f"hipvision {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
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
