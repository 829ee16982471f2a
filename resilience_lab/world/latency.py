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
- ``SlowerUnderLoad(0.1, factor=10, backlog=60)``: work that depends on how
  loaded the instance is: 0.1 s, but ten times longer while more than 60 calls
  wait in its queue. This is how overload feeds itself (a metastable failure).

A load-dependent model has ``sample_under(rng, load)`` besides ``sample``: the
service calls it with a :class:`Load`, what the instance is doing when a worker
picks the call up, and the work keeps the length drawn then.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple


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


class Load(NamedTuple):
    """What one instance is doing when a worker picks a call up: ``busy`` workers
    (this call's included), ``queued`` calls still waiting behind it, and its
    ``workers`` (the pool's capacity at that moment)."""

    busy: int
    queued: int
    workers: int

    @property
    def utilisation(self) -> float:
        """The share of the workers busy, 0 to 1 (1 if the pool has no worker left)."""
        return self.busy / self.workers if self.workers else 1.0


@dataclass(frozen=True)
class SlowerUnderLoad:
    """Work that takes ``factor`` times longer while the instance is overloaded.

    ``latency`` is the work of a healthy instance (seconds or a distribution).
    Overloaded means, when a worker picks the call up, either more than
    ``backlog`` calls waiting in the instance's queue, or at least
    ``utilisation`` of its workers busy: give exactly one of the two. Then::

        seconds = latency.sample(rng) * (factor if overloaded else 1)

    The work keeps the length drawn when it starts. ``factor`` defaults to 10.

    Real services slow down under load (lock contention, a cache that no longer
    fits, garbage collection, swapping), and a slower service builds a longer
    queue: once past the threshold, the overload can sustain itself. Bronson et
    al. (HotOS 2021) describe a database that answers in 0.1 s below 300 queries
    per second and ten times slower above; the fidelity appendix builds it.
    """

    latency: object
    factor: float = 10.0
    backlog: int | None = None
    utilisation: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "latency", as_latency(self.latency, "SlowerUnderLoad latency"))
        factor = self.factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (1 <= factor < math.inf):
            raise ValueError(f"SlowerUnderLoad: factor must be a finite number >= 1 (how many times "
                             f"slower), got {factor!r}")
        if (self.backlog is None) == (self.utilisation is None):
            raise ValueError("SlowerUnderLoad: give exactly one of backlog= (calls waiting in the queue) "
                             f"or utilisation= (share of workers busy), got backlog={self.backlog!r}, "
                             f"utilisation={self.utilisation!r}")
        backlog = self.backlog
        if backlog is not None and (isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0):
            raise ValueError(f"SlowerUnderLoad: backlog must be a whole number of calls >= 0, got {backlog!r}")
        share = self.utilisation
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                                  or not 0 < share <= 1):
            raise ValueError(f"SlowerUnderLoad: utilisation must be a share of the workers, "
                             f"above 0 and at most 1, got {share!r}")

    def overloaded(self, load: Load) -> bool:
        """True if ``load`` is past the threshold."""
        if self.backlog is not None:
            return load.queued > self.backlog
        return load.utilisation >= self.utilisation

    def sample_under(self, rng: random.Random, load: Load) -> float:
        seconds = self.latency.sample(rng)
        return seconds * self.factor if self.overloaded(load) else seconds

    def sample(self, rng: random.Random) -> float:
        """The healthy work (what a call to an idle instance takes)."""
        return self.latency.sample(rng)


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
