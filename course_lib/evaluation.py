"""Honest comparisons: run an experiment over several seeds and report mean ± standard deviation.

One training run is one draw: a different seed (initial weights, shuffling, a different
draw of labelled examples) gives a different number. A claim such as "pretraining beats
training from scratch" is only as good as the spread of those draws, so the course
measures every comparison over several seeds::

    results = over_seeds(lambda seed: {"scratch": train(seed, False), "pretrained": train(seed, True)}, seeds=range(3))
    print(results)                                  # one line per method: mean ± sd over the seeds
    gain = results.paired_difference("pretrained", "scratch")
    assert gain.mean - 2 * gain.sem > 0, gain       # better on average, beyond the seed-to-seed noise

Each call of the experiment starts from :func:`course_lib.env.set_seed`, so the table is
the same on a rerun.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A mean over seeds, its standard deviation (``ddof=1``) and the standard error of the mean."""

    name: str
    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def sd(self) -> float:
        """Sample standard deviation over the seeds (0 for a single seed)."""
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0

    @property
    def sem(self) -> float:
        """Standard error of the mean, ``sd / sqrt(n)``."""
        return self.sd / math.sqrt(self.n)

    def __str__(self) -> str:
        return f"{self.name}: {_number(self.mean)} ± {_number(self.sd)} (mean ± sd over {self.n} seeds)"


def _number(x: float) -> str:
    """Three decimals, or three significant digits for numbers too small to show that way."""
    return f"{x:.3f}" if abs(x) < 1e-12 or abs(x) >= 0.01 else f"{x:.2e}"


@dataclasses.dataclass(frozen=True)
class SeedResults:
    """The metrics an experiment returned for each seed, by name.

    Example:
        >>> results = SeedResults(seeds=(0, 1, 2), values={"a": (0.9, 0.8, 1.0), "b": (0.6, 0.7, 0.8)})
        >>> print(results)
        a: 0.900 ± 0.100 (mean ± sd over 3 seeds)
        b: 0.700 ± 0.100 (mean ± sd over 3 seeds)
        >>> round(results.paired_difference("a", "b").mean, 3)
        0.2
    """

    seeds: tuple[int, ...]
    values: Mapping[str, tuple[float, ...]]

    def __getitem__(self, name: str) -> Estimate:
        if name not in self.values:
            raise KeyError(f"SeedResults: no metric {name!r}; the experiment returned {sorted(self.values)}")
        return Estimate(name, tuple(self.values[name]))

    @property
    def names(self) -> list[str]:
        return list(self.values)

    def paired_difference(self, a: str, b: str) -> Estimate:
        """``a - b`` seed by seed (the same seed, hence the same data draw, for both), as an :class:`Estimate`."""
        first, second = self[a], self[b]
        return Estimate(f"{a} - {b}", tuple(x - y for x, y in zip(first.values, second.values)))

    def __str__(self) -> str:
        return "\n".join(str(self[name]) for name in self.names)


def over_seeds(experiment: Callable[[int], float | Mapping[str, float]], seeds: Iterable[int] = (0, 1, 2)) -> SeedResults:
    """Run ``experiment(seed)`` once per seed, each after :func:`course_lib.env.set_seed`; collect what it returns.

    Args:
        experiment: a function of the seed returning one number, or a dict of numbers by
            name (e.g. one accuracy per method, all measured on the same seed's draw).
        seeds: the seeds, at least one.

    Returns:
        :class:`SeedResults`; a lone number is stored under the name ``"value"``.

    Raises:
        ValueError: no seeds, or the experiment returns different names for different seeds.
        TypeError: the experiment returns something that is not a number or a dict of numbers.
    """
    from course_lib.env import set_seed

    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("over_seeds: `seeds` must name at least one seed, got none")
    collected: dict[str, list[float]] = {}
    for i, seed in enumerate(seeds):
        set_seed(seed)
        result = experiment(seed)
        row = dict(result) if isinstance(result, Mapping) else {"value": result}
        if i and set(row) != set(collected):
            raise ValueError(f"over_seeds: seed {seed} returned {sorted(row)}, earlier seeds returned {sorted(collected)}")
        for name, value in row.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"over_seeds: the experiment must return numbers; {name!r} was {value!r}") from None
            collected.setdefault(name, []).append(number)
    return SeedResults(seeds, {name: tuple(values) for name, values in collected.items()})
