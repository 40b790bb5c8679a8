"""Atomic file writes: a crash or a kill leaves either the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file could not be written (full disk, read-only folder, no permission). Its text is one
    line, `cannot write PATH: reason`, and nothing half-written is left behind. An OSError, so
    callers that already catch OSError keep working."""

    def __init__(self, path: str | os.PathLike, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def failed_write(exc: BaseException) -> Path | None:
    """The file an atomic write was producing when `exc` escaped the writer's own code (e.g.
    torch's RuntimeError on a full disk, which is no OSError), else None."""
    return getattr(exc, "hipvision_failed_write", None)


def _about(exc: OSError, tmp: Path) -> bool:
    """Whether an OSError raised while writing concerns the file being written: a write() or
    fsync() error names no file, an open() error names the temporary one. An error naming some
    other file (a source image the writer reads) is that file's problem, not this write's."""
    return exc.filename is None or Path(exc.filename) == tmp


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success fsync and os.replace it into place.

    The temporary file sits in the same folder so os.replace is a rename on one filesystem.
    Any failure removes the temporary file; an OSError about this write becomes a WriteError.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, exc) from None
    tmp_path = Path(tmp)
    try:
        try:
            # mkstemp creates 0600; give the file the mode a plain open() would (umask respected),
            # so exports and images are readable by the other programs a user hands them to.
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except WriteError:
        tmp_path.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if _about(exc, tmp_path):
            raise WriteError(path, exc) from None
        raise
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, Exception):
            try:
                exc.hipvision_failed_write = path  # type: ignore[attr-defined]
            except AttributeError:  # an exception type without a __dict__: nothing to tag
                pass
        raise
    try:
        _fsync_dir(path.parent)
    except OSError as exc:  # the new file is whole and in place, but its rename may not survive a power cut
        raise WriteError(path, exc) from None


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable: after a power cut the folder's entry could otherwise still
    name the old file (or none). Folders cannot be opened for fsync on Windows: skipped there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))
