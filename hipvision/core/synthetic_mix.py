"""How training mixes in synthetic images: the measured default and its one validation.

`share` is the synthetic share of each epoch's samples (None: in proportion to their
number, the poster's way); `until` is the share of the epochs that use them, after which
training ends on real images only. Used by ml.training.TrainConfig, the experiment, the CLI and
the app's preferences, which must agree on the default. Measured (docs/synthetic.md): half of
each epoch for the first two thirds beat mixing by number on every backbone tried, at 10 and
at 40 labelled images.
"""

from __future__ import annotations

DEFAULT_SHARE: float | None = 0.5
DEFAULT_UNTIL: float = 0.67


def _fraction(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_mix(share, until, owner: str = "") -> None:
    """Raise ValueError naming `owner`'s field (e.g. 'TrainConfig.') when the mix is invalid."""
    if share is not None and (not _fraction(share) or not 0.0 <= share <= 1.0):
        raise ValueError(f"{owner}synthetic_share must be a fraction in [0, 1] or None, got {share!r}")
    if not _fraction(until) or not 0.0 < until <= 1.0:
        raise ValueError(f"{owner}synthetic_until must be a fraction in (0, 1], got {until!r}")
