"""Files interrupted runs leave in a project's models folder, and the lock that keeps a live
run's files off that list.

A run killed at the wrong moment leaves a model pair no registry row references (killed
between saving and registering), a `.state.pt` (killed mid-training) or the temporary file of
an atomic write (killed mid-write): ~100 MB each. What counts as a leftover, in the models
folder only:
- the temporary files of atomic writes (`.<name>.<random>.tmp`) of model, sidecar or state;
- weights (`.safetensors`) no registry row references, and their sidecars;
- training states, except the newest: that is the run `train --resume` continues;
- locks of runs whose process is gone.
Never a registered model, never a file of a run whose lock names a live process, never a file
the caller says is newer than its own start (`before`), never a file of a kind not listed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hipvision.core.atomic import write_text_atomic

log = logging.getLogger("hipvision.ml")

LOCK_SUFFIX = ".lock"
# Suffixes of a run's files, longest first (".state.pt" before ".pt").
KINDS = ((".state.pt", "state"), (".safetensors", "weights"), (".json", "sidecar"))
# A lock we cannot check (another host's, or on Windows without a cheap pid probe) is trusted
# this long: no single training run lasts a week.
FOREIGN_LOCK_TRUST_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Leftover:
    path: Path
    size: int
    why: str


def lock_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(f".{output.stem}{LOCK_SUFFIX}")


def _lock_text() -> str:
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname()})


@contextmanager
def run_lock(output: str | Path):
    """Mark the files of the run writing `output` (model, sidecar, state and their temporary
    names) as live while the block runs. A nested hold by the same process (the retrain job
    around its training) leaves the lock to the outer one."""
    if int(os.environ.get("RANK", "0")) != 0:  # other ranks of `accelerate launch` write no files
        yield None
        return
    lock = lock_path(output)
    try:
        mine = lock.read_text(encoding="utf-8") == _lock_text()
    except OSError:
        mine = False
    if mine:
        yield lock
        return
    write_text_atomic(lock, _lock_text())
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def _lock_alive(lock: Path) -> bool:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        pid, host = int(info["pid"]), str(info["host"])
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False  # written atomically, so an unreadable lock is not one being written
    if host != socket.gethostname() or os.name == "nt":
        return age < FOREIGN_LOCK_TRUST_S
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


def _classify(name: str) -> tuple[str, str] | None:
    """(run stem, kind) of a file name in the models folder, or None when it is no run's file."""
    if name.startswith(".") and name.endswith(LOCK_SUFFIX):
        return name[1:-len(LOCK_SUFFIX)], "lock"
    tmp = name.startswith(".") and name.endswith(".tmp")
    if tmp:  # atomic_path's `.<name>.<random>.tmp`; the random part has no dots
        name = name[1:-len(".tmp")].rpartition(".")[0]
    for suffix, kind in KINDS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], "tmp" if tmp else kind
    return None


def _is_sidecar(path: Path) -> bool:
    """Only a hipvision sidecar is ours to delete, not any JSON a user keeps there."""
    from hipvision.ml.sidecar import FORMAT

    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def find_leftovers(project, *, before: float | None = None) -> list[Leftover]:
    """The leftovers in `project`'s models folder (see the module doc); `before`: only files last
    written before this time (time.time()), e.g. the start of the job that is looking."""
    folder = Path(project.models_dir)
    if not folder.is_dir():
        return []
    registered = set()
    for rec in project.models():
        try:
            registered.add(Path(rec.abs_file).resolve())
        except (OSError, RuntimeError):
            continue
    files = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    runs = {p: _classify(p.name) for p in files}
    live = {c[0] for p, c in runs.items() if c is not None and c[1] == "lock" and _lock_alive(p)}
    states = [p for p, c in runs.items() if c is not None and c[1] == "state"]
    newest_state = max(states, key=lambda p: p.stat().st_mtime, default=None)
    out = []
    for p, c in sorted(runs.items()):
        if c is None or c[0] in live:
            continue
        stem, kind = c
        try:
            st = p.stat()
        except OSError:
            continue
        if before is not None and st.st_mtime >= before:
            continue
        weights = folder / f"{stem}.safetensors"
        if kind in ("weights", "sidecar") and weights.resolve() in registered:
            continue
        if kind == "sidecar" and not _is_sidecar(p):
            continue
        if kind == "state" and p == newest_state:
            continue
        why = {"tmp": "temporary file of an interrupted write", "lock": "lock of a run that is no longer running",
               "state": "training state of an older interrupted run", "weights": "model no project row refers to",
               "sidecar": "sidecar of a model no project row refers to"}[kind]
        out.append(Leftover(p, st.st_size, why))
    return out


def remove_leftovers(project, *, before: float | None = None) -> list[Leftover]:
    """Delete what `find_leftovers` lists; returns what was deleted (a file that cannot be is
    logged and kept: cleaning up must never stop the work that asked for it)."""
    removed = []
    for item in find_leftovers(project, before=before):
        try:
            item.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: cannot remove (%s)", item.path, exc.strerror or exc)
            continue
        removed.append(item)
    if removed:
        log.info("removed %d leftover file(s) of interrupted runs (%.1f MB) from %s", len(removed),
                 sum(r.size for r in removed) / 1e6, project.models_dir)
    return removed
