"""Decoded radiographs ready for display, with read-ahead of the neighbours (Qt-free).

Decoding a 4,300 x 4,300 16-bit PNG takes a few hundred ms; while the user reads one image
the next and previous are decoded on one background thread (numpy/OpenCV release the GIL),
so PgDn shows the next image at once. The worker only decodes into plain objects; it never
touches a widget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hipvision.core.image_pyramid import ImagePyramid
from hipvision.core.radiograph import Radiograph, load_radiograph
from hipvision.core.window_level import robust_window


@dataclass(frozen=True, eq=False)
class LoadedImage:
    radiograph: Radiograph
    pyramid: ImagePyramid
    window: tuple[float, float]  # the file's own (DICOM VOI) or the automatic one


def load_image(path: str | Path) -> LoadedImage:
    rad = load_radiograph(path)
    pyramid = ImagePyramid(rad.pixels)
    # The file's own window (DICOM VOI) when it has one, else a histogram window that ignores
    # collimation and burn-out (computed on the smallest level: fast, same histogram shape).
    window = rad.window if rad.window is not None else robust_window(pyramid.levels[-1])
    return LoadedImage(rad, pyramid, window)


class ImageCache:
    """`get` blocks until the image is decoded (reusing a read-ahead already running);
    `prefetch` queues read-ahead. Keeps the `capacity` most recently used images."""

    def __init__(self, capacity: int = 3, loader=load_image):
        self.capacity = max(1, capacity)
        self._loader = loader
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, float], Future] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hipvision-decode")

    @staticmethod
    def _key(path: Path) -> tuple[str, float]:
        try:
            mtime = path.stat().st_mtime  # a file replaced on disk is decoded again
        except OSError:
            mtime = -1.0
        return str(path), mtime

    def _future(self, path: Path, *, background: bool) -> Future:
        key = self._key(path)
        with self._lock:
            fut = self._items.get(key)
            if fut is None:
                if background:
                    fut = self._pool.submit(self._loader, path)
                else:
                    fut = Future()
                self._items[key] = fut
                run_here = not background
            else:
                run_here = False
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                old_key, old = next(iter(self._items.items()))
                if old is fut:
                    break
                old.cancel()
                del self._items[old_key]
        if run_here:
            try:
                fut.set_result(self._loader(path))
            except BaseException as exc:  # handed to the caller through the future
                fut.set_exception(exc)
        return fut

    def get(self, path: str | Path) -> LoadedImage:
        fut = self._future(Path(path), background=False)
        try:
            return fut.result()
        except BaseException:
            with self._lock:  # do not cache failures: the user may fix the file and retry
                for k, v in list(self._items.items()):
                    if v is fut:
                        del self._items[k]
            raise

    def prefetch(self, paths) -> None:
        for p in paths:
            self._future(Path(p), background=True)

    def cached(self, path: str | Path) -> bool:
        fut = self._items.get(self._key(Path(path)))
        return fut is not None and fut.done() and fut.exception() is None

    def idle(self) -> bool:
        """No read-ahead running or queued (benchmarks time on a quiet machine)."""
        with self._lock:
            return all(f.done() for f in self._items.values())

    def clear(self) -> None:
        with self._lock:
            for fut in self._items.values():
                fut.cancel()
            self._items.clear()

    def close(self) -> None:
        self.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
