"""Faults: what can go wrong with one service, and when.

Each fault names one service and a window ``[start, end)`` in simulated seconds
(``end`` defaults to the end of the run). Inside the window the fault is on;
outside it the service is healthy again. Faults never touch other services: a
cascade, if there is one, is the world's doing, not the fault's.

Build them through the world (``world.inject_latency("B", 0.48, start=10)``) or
directly and pass them to ``world.inject(fault)``.

A fault acts on the calls that arrive while it is on, and on those the service
already holds when it starts (see :mod:`resilience_lab.world.service`): an
outage in ``fail`` mode ends them with the connection error, one in ``hang`` mode
lets no answer out while it lasts, a killed instance loses what it held, added
latency lengthens the work in progress from that moment.

Several faults may overlap on one service; their effects combine:
added latencies and jitters add up, error rates combine as independent causes
(``1 - (1 - p1)(1 - p2)``), capacity losses add up (never below 0 workers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HANG = "hang"
FAIL = "fail"
_MODES = (FAIL, HANG)


def _check_number(owner: str, name: str, value, *, low=0.0, high=math.inf, whole=False):
    kind = "a whole number" if whole else "a number"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if whole:
        ok = ok and float(value).is_integer()
    if not ok or math.isnan(value) or not (low <= value <= high):
        upper = "" if high == math.inf else f" and <= {high:g}"
        raise ValueError(f"{owner}: {name} must be {kind} >= {low:g}{upper}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class Fault:
    """A fault on ``service`` during ``[start, end)``."""

    service: str
    start: float = 0.0
    end: float = math.inf

    def __post_init__(self):
        owner = f"{type(self).__name__} on {self.service!r}"
        if not isinstance(self.service, str) or not self.service:
            raise ValueError(f"a fault needs a service name, got {self.service!r}")
        _check_number(owner, "start", self.start)
        _check_number(owner, "end", self.end)
        if self.end <= self.start:
            raise ValueError(
                f"{owner}: the window must end after it starts, "
                f"got start={self.start!r}, end={self.end!r}"
            )
        self._validate(owner)

    def _validate(self, owner: str) -> None:
        pass

    @property
    def label(self) -> str:
        return f"{self.service}: {self.describe()}"

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class AddedLatency(Fault):
    """Every call takes ``seconds`` longer, plus or minus up to ``jitter`` (uniform).

    A call at work when the fault starts takes the extra from that moment."""

    seconds: float
    jitter: float = 0.0

    def _validate(self, owner):
        _check_number(owner, "seconds", self.seconds)
        _check_number(owner, "jitter", self.jitter)

    def describe(self):
        extra = f" ± {self.jitter * 1000:g} ms" if self.jitter else ""
        return f"+{self.seconds * 1000:g} ms{extra}"


@dataclass(frozen=True, kw_only=True)
class ErrorRate(Fault):
    """Each call fails with probability ``rate`` (0 to 1)."""

    rate: float

    def _validate(self, owner):
        _check_number(owner, "rate", self.rate, high=1.0)

    def describe(self):
        return f"{self.rate:.0%} errors"


@dataclass(frozen=True, kw_only=True)
class Outage(Fault):
    """The service is down: calls fail at once (``mode="fail"``, connection
    refused) or never get an answer (``mode="hang"``, a black hole).

    Calls it already holds when the outage starts end at once with the
    connection error (``fail``), or get no answer while the outage lasts
    (``hang``: an answer due inside the outage is lost; one due after it arrives)."""

    mode: str = FAIL

    def _validate(self, owner):
        if self.mode not in _MODES:
            raise ValueError(f"{owner}: mode must be one of {_MODES}, got {self.mode!r}")

    def describe(self):
        return f"down ({self.mode})"


@dataclass(frozen=True, kw_only=True)
class LostCapacity(Fault):
    """Each instance of the service loses ``workers`` of its workers."""

    workers: int

    def _validate(self, owner):
        _check_number(owner, "workers", self.workers, low=1, whole=True)

    def describe(self):
        return f"-{self.workers} workers"


@dataclass(frozen=True, kw_only=True)
class KilledInstance(Fault):
    """One instance (numbered from 0) is dead: its share of the calls fails or hangs.

    It loses the calls it held when it died: they end at once with the
    connection error (``fail``) or never get an answer (``hang``)."""

    instance: int = 0
    mode: str = FAIL

    def _validate(self, owner):
        _check_number(owner, "instance", self.instance, whole=True)
        if self.mode not in _MODES:
            raise ValueError(f"{owner}: mode must be one of {_MODES}, got {self.mode!r}")

    def describe(self):
        return f"instance {self.instance} killed ({self.mode})"
