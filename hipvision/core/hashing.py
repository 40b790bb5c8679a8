"""SHA-256 of a file, the one way the app fingerprints images and model weights."""

from __future__ import annotations

import hashlib
import os


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes, streamed by hashlib (radiographs can be 40 MB, models more)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
