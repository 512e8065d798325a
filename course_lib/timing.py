"""Fair timing: run the contenders interleaved and report speed-ups as ratios.

On a laptop or a shared 2-core machine the speed of one piece of code drifts by tens of
per cent while you watch (other programs, the CPU's clock, the memory cache). Timing A
ten times and then B ten times puts that drift into the comparison. :func:`race` runs
every contender once per repeat, in turn, so a slow moment slows all of them alike, and
:meth:`Race.speedup` reports the median of the per-repeat ratios, which a load that
changes during the run disturbs less than a ratio of two medians. This is what the
course's speed claims (notebooks 19 and 20, ``benchmarks/run.py``) are measured with;
each claim is checked as a ratio with a margin, never as an absolute time.

Example:
    >>> import time
    >>> result = race({"short": lambda: time.sleep(0.002), "long": lambda: time.sleep(0.02)}, repeats=3)
    >>> result.speedup("short", over="long") > 3
    True
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping

from course_lib import _validation as check


@dataclasses.dataclass(frozen=True)
class Race:
    """Seconds per repeat for each contender, in the order they ran."""

    seconds: dict[str, tuple[float, ...]]

    def _times(self, name: str) -> tuple[float, ...]:
        if name not in self.seconds:
            raise KeyError(f"Race: no contender named {name!r}; the contenders are {sorted(self.seconds)}")
        return self.seconds[name]

    def median(self, name: str) -> float:
        """The median seconds of one repeat of ``name``."""
        return statistics.median(self._times(name))

    def ratios(self, name: str, over: str) -> tuple[float, ...]:
        """Per repeat, ``over``'s time divided by ``name``'s: above 1 where ``name`` is faster."""
        return tuple(b / a for a, b in zip(self._times(name), self._times(over)))

    def speedup(self, name: str, over: str) -> float:
        """How many times faster ``name`` is than ``over``: the median of the per-repeat ratios."""
        return statistics.median(self.ratios(name, over))

    def spread(self, name: str, over: str) -> tuple[float, float]:
        """The smallest and largest per-repeat speed-up: how much the ratio moved during the run."""
        values = self.ratios(name, over)
        return min(values), max(values)

    def table(self, baseline: str | None = None, unit: str = "s", per: float = 1.0):
        """A pandas DataFrame: median time per repeat (divided by ``per``, for example per
        step) and each contender's speed-up over ``baseline`` (default: the first)."""
        import pandas as pd

        baseline = next(iter(self.seconds)) if baseline is None else baseline
        rows = {}
        for name in self.seconds:
            low, high = self.spread(name, baseline)
            rows[name] = {f"median {unit}": self.median(name) / per, f"speed-up over {baseline}": self.speedup(name, baseline),
                          "range over repeats": f"{low:.2f}-{high:.2f}"}
        return pd.DataFrame(rows).T


def race(contenders: Mapping[str, Callable[[], object]], repeats: int = 5, warmup: int = 1) -> Race:
    """Time each contender ``repeats`` times, interleaved, after ``warmup`` untimed calls each.

    Args:
        contenders: name -> a function of no arguments that does the work once (it must
            finish the work before returning: convert a result to NumPy if the backend
            runs asynchronously).
        repeats: timed calls of each contender (at least 1).
        warmup: untimed calls of each contender first (tracing, compiling, caches).

    Returns:
        A :class:`Race`.
    """
    if not isinstance(contenders, Mapping) or not contenders:
        raise ValueError(f"race: `contenders` must be a non-empty mapping of name -> function, got {contenders!r}")
    for name, fn in contenders.items():
        if not callable(fn):
            raise TypeError(f"race: contender {name!r} must be a function of no arguments, got {type(fn).__name__}")
    repeats = check.integer("race", "repeats", repeats, 1)
    warmup = check.integer("race", "warmup", warmup, 0)
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    seconds = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    return Race({name: tuple(t) for name, t in seconds.items()})
