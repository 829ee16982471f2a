"""The bulkhead: a fixed number of permits per dependency. No I/O, no clock.

Rule: a call to the dependency needs a permit; at most ``max_concurrent`` calls
hold one at a time. A call that finds none free is *rejected* (the default,
``max_wait=0``, as in Resilience4j's semaphore bulkhead) or waits at most
``max_wait`` seconds for one. Every permit taken is given back exactly once,
however the call ends: an answer, an error, a timeout, a cancellation.

Why: a pool shared by several dependencies is only as healthy as the slowest of
them. Give each its own bulkhead and a dependency that hangs can fill only its
own permits; calls to the others still find theirs free.

Sizing (Little's law, ``L = λ · W``): a dependency called ``rate`` times per
second, each call holding a permit ``latency`` seconds, keeps ``rate * latency``
permits busy on average. :func:`partition_size` adds headroom for bursts:
``ceil(rate * latency * headroom)``.

Defaults: ``max_concurrent=25``, ``max_wait=0.0`` (Resilience4j's).

This object only counts. The waiting itself (a queue of callers woken when a
permit comes back) belongs to whatever runs the calls: the simulated world's
adapter (:mod:`resilience_lab.world.bulkhead_policy`) or a real event loop.
:func:`call_with_bulkhead` is the call path, as a generator any of them can drive.
"""

from __future__ import annotations

import math

from ..outcomes import Outcome


def _whole(owner, name, value, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}: {name} must be a whole number >= {low}, got {value!r}")
    return value


class Bulkhead:
    """At most ``max_concurrent`` calls at once; the rest wait up to ``max_wait`` s or are rejected.

    Counters (all start at 0): ``in_use`` (permits held now), ``accepted``
    (permits ever handed out), ``rejected`` (calls turned away).
    """

    def __init__(self, max_concurrent: int = 25, max_wait: float = 0.0):
        _whole("Bulkhead", "max_concurrent", max_concurrent, 1)
        ok = isinstance(max_wait, (int, float)) and not isinstance(max_wait, bool)
        if not ok or math.isnan(max_wait) or max_wait < 0:
            raise ValueError(f"Bulkhead: max_wait must be a number of seconds >= 0 (or math.inf), got {max_wait!r}")
        self.max_concurrent = max_concurrent
        self.max_wait = float(max_wait)
        self.in_use = 0
        self.accepted = 0
        self.rejected = 0

    @property
    def available(self) -> int:
        """Permits free right now."""
        return self.max_concurrent - self.in_use

    def try_acquire(self, now: float) -> bool:
        """Take a permit if one is free (True); otherwise take nothing (False)."""
        if self.in_use < self.max_concurrent:
            self.in_use += 1
            self.accepted += 1
            return True
        return False

    def release(self, now: float) -> None:
        """Give back one permit. Releasing more than was taken is a bug: ValueError."""
        if self.in_use <= 0:
            raise ValueError("Bulkhead.release: no permit is held (released more often than acquired)")
        self.in_use -= 1

    def reject(self, now: float) -> None:
        """Count one call turned away."""
        self.rejected += 1

    def __repr__(self):
        return (f"Bulkhead(max_concurrent={self.max_concurrent}, max_wait={self.max_wait:g}, "
                f"in_use={self.in_use}, rejected={self.rejected})")


def call_with_bulkhead(bulkhead, call, clock):
    """Run ``call()`` inside ``bulkhead`` (a generator; drive it with ``yield from``).

    ``call`` is a generator function returning an :class:`Outcome`; ``clock()``
    returns the current time. No free permit: count a rejection and return
    ``Outcome.REJECTED`` at once, without calling and without waiting.
    Otherwise hold the permit for the whole call and give it back in a
    ``finally``, so that an exception or a cancellation thrown into the call
    (what a caller's timeout does in asyncio) cannot leak it.
    """
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    try:
        return (yield from call())
    finally:
        bulkhead.release(clock())


def partition_size(rate: float, latency: float, headroom: float = 2.0) -> int:
    """Permits for ``rate`` calls per second of ``latency`` s each: ``ceil(rate * latency * headroom)``.

    Little's law gives the average number in use (``rate * latency``);
    ``headroom`` (default 2) leaves room for bursts and slow calls. At least 1.
    """
    for name, value in (("rate", rate), ("latency", latency), ("headroom", headroom)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
            raise ValueError(f"partition_size: {name} must be a number > 0, got {value!r}")
    return max(1, math.ceil(rate * latency * headroom - 1e-9))
