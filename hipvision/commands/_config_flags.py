"""Command-line flags derived from a config dataclass: one flag per field, its help text from the
field's `metadata["help"]`, its type from the annotation. A new config field thus gets a flag
without anyone remembering to add one.

Flags default to "not given" (argparse.SUPPRESS), so the dataclass's own defaults apply and a
command can tell which flags the user actually passed.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing


def _plain(tp):
    """(the non-None type, optional?) of an annotation such as `int | None`."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), True
    return tp, False


def _hints(cls) -> dict:
    """The fields' types; a field whose type is only imported for type checking (kept out of
    the CLI's imports) stays its annotation string and needs its own parser in `types_`."""
    import sys

    try:
        return typing.get_type_hints(cls)
    except NameError:
        ns = vars(sys.modules[cls.__module__])
        out = {}
        for f in dataclasses.fields(cls):
            try:
                out[f.name] = eval(f.type, ns) if isinstance(f.type, str) else f.type  # noqa: S307 (annotations)
            except NameError:
                out[f.name] = f.type
        return out


def _csv(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def add_config_flags(parser, cls, *, prefix: str = "", names: dict | None = None, types_: dict | None = None,
                     skip: tuple[str, ...] = ()) -> None:
    """One flag per field of `cls`. `names` renames a field's flag (kept spellings of older flags),
    `types_` gives a field a parser of its own; nested dataclasses get `--<field>-<subfield>` flags."""
    names, types_ = names or {}, types_ or {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, _ = _plain(hints[f.name])
        flag = names.get(f.name, "--" + prefix + f.name.replace("_", "-"))
        help_ = f.metadata.get("help", f"{cls.__name__}.{f.name}")
        default = f.default if f.default is not dataclasses.MISSING else None
        dest = prefix.replace("-", "_") + f.name
        if dataclasses.is_dataclass(tp):
            add_config_flags(parser, tp, prefix=prefix + f.name.replace("_", "-") + "-")
        elif tp is bool and default is True:
            parser.add_argument(names.get(f.name, "--no-" + prefix + f.name.replace("_", "-")), dest=dest,
                                action="store_false", default=argparse.SUPPRESS, help=f"not: {help_}")
        elif tp is bool:
            parser.add_argument(flag, dest=dest, action="store_true", default=argparse.SUPPRESS, help=help_)
        else:
            kind = types_.get(f.name) or (_csv if typing.get_origin(tp) is tuple else tp)
            shown = f" (default: {_shown(default)})" if default is not None else ""
            parser.add_argument(flag, dest=dest, type=kind, default=argparse.SUPPRESS, help=help_ + shown)


def _shown(default) -> str:
    if isinstance(default, tuple):
        return ",".join(default)
    return str(default)


def config_kwargs(args, cls, *, prefix: str = "") -> dict:
    """The fields of `cls` given on the command line (nested dataclasses built from their flags)."""
    hints = _hints(cls)
    given = vars(args)
    out = {}
    for f in dataclasses.fields(cls):
        tp, _ = _plain(hints[f.name])
        if dataclasses.is_dataclass(tp):
            sub = config_kwargs(args, tp, prefix=prefix + f.name + "_")
            if sub:
                out[f.name] = tp(**sub)
        elif prefix + f.name in given:
            out[f.name] = given[prefix + f.name]
    return out
