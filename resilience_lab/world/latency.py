"""Latency distributions: how long a service takes to do its own work.

A distribution is a small object with ``sample(rng) -> seconds`` that draws from
the ``random.Random`` it is given and from nothing else, so a seeded run repeats.
Anywhere the world takes a latency you may also pass a plain number of seconds,
which means :class:`Fixed`.

- ``Fixed(0.02)``: always 20 ms.
- ``Exponential(mean=0.02)``: memoryless, mean 20 ms (the "M" of M/M/c queues).
- ``LogNormal(median=0.02, sigma=0.3)``: the long right tail real services have;
  ``exp(N(ln median, sigma))``, so half the calls are faster than the median and
  the p99 is ``median * exp(2.326 * sigma)``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Fixed:
    """Always the same number of seconds (0 allowed)."""

    seconds: float

    def __post_init__(self):
        _positive("Fixed latency", self.seconds, allow_zero=True)

    def sample(self, rng: random.Random) -> float:
        return self.seconds

    @property
    def mean(self) -> float:
        return self.seconds


@dataclass(frozen=True)
class Exponential:
    """Exponentially distributed with the given mean (seconds)."""

    mean: float

    def __post_init__(self):
        _positive("Exponential mean", self.mean)

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean)


@dataclass(frozen=True)
class LogNormal:
    """Log-normal: ``median * exp(sigma * Z)`` with Z standard normal.

    Defaults to ``sigma=0.3``, which puts the p99 at about twice the median.
    """

    median: float
    sigma: float = 0.3

    def __post_init__(self):
        _positive("LogNormal median", self.median)
        _positive("LogNormal sigma", self.sigma, allow_zero=True)

    def sample(self, rng: random.Random) -> float:
        return self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0))

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)


def as_latency(value, what: str = "latency"):
    """A distribution from a number of seconds or a distribution object."""
    if hasattr(value, "sample"):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"{what} must be seconds (a number) or a distribution such as "
            f"Exponential(0.02), got {value!r}"
        )
    _positive(what, value, allow_zero=True)
    return Fixed(float(value))
