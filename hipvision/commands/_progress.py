"""A tqdm bar fed by the `progress(done, total, message)` callbacks of long work."""

from __future__ import annotations

import sys


def tqdm_progress(desc: str, *, unit: str = "step", disable: bool = False):
    """(bar, progress): pass `progress` to the work, close `bar` when it returns."""
    from tqdm import tqdm

    bar = tqdm(total=1, desc=desc, unit=unit, file=sys.stderr, disable=disable, leave=False, dynamic_ncols=True)

    def progress(done, total, msg=""):
        if bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.set_postfix_str(str(msg), refresh=False)
        bar.refresh()

    return bar, progress
