import threading
import time

import pytest

from hipvision.core.image_cache import ImageCache, load_image
from hipvision.core.radiograph import RadiographError


def test_get_caches_and_prefetch_decodes_in_the_background(tmp_path):
    threads = []

    def loader(path):
        threads.append(threading.current_thread().name)
        time.sleep(0.05)
        return f"decoded {path.name}"

    cache = ImageCache(capacity=2, loader=loader)
    files = [tmp_path / f"{i}.png" for i in range(3)]
    for f in files:
        f.write_bytes(b"x")
    try:
        cache.prefetch([files[1]])
        assert cache.get(files[1]) == "decoded 1.png"  # waits for the read-ahead, no second decode
        assert threads == ["hipvision-decode_0"]
        assert cache.get(files[0]) == "decoded 0.png" and threads[-1] == threading.current_thread().name
        assert cache.get(files[0]) == "decoded 0.png" and len(threads) == 2
        cache.get(files[2])  # capacity 2: the least recently used (1) goes
        assert not cache.cached(files[1]) and cache.cached(files[0])
    finally:
        cache.close()


def test_failures_are_raised_and_not_cached(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    cache = ImageCache()
    try:
        with pytest.raises(RadiographError, match="bad.png"):
            cache.get(bad)
        assert not cache.cached(bad)
    finally:
        cache.close()


def test_load_image_builds_the_display_pyramid(phantom_folder):
    loaded = load_image(next(phantom_folder.glob("*.png")))
    assert loaded.pyramid.levels[0] is loaded.radiograph.pixels
    c, w = loaded.window
    assert w > 0
