"""Retries: backoff schedules, what to retry, and a retry budget. No I/O, no clock.

**Backoff** (Brooker, "Exponential Backoff And Jitter", 2015). Retry number
``n`` (0 for the first retry) of a capped exponential schedule waits
``v = min(cap, base * 2**n)``, blurred by one of:

- ``no_jitter``: exactly ``v``. Clients that failed together retry together.
- ``full_jitter``: ``U(0, v)``. Fewest calls under contention.
- ``equal_jitter``: ``v/2 + U(0, v/2)``. Never waits less than half of ``v``.
- ``decorrelated_jitter``: ``min(cap, U(base, 3 * previous))``, where
  ``previous`` is the delay before the last retry (``base`` before the first).

Each is a pure function: the same arguments and the same state of the
``random.Random`` give the same delay. (The source lesson adds ``U(0, v/2)`` on
top of ``v``: that is none of these; its delays all exceed ``v``.)

**What to retry**: only what may succeed next time. ``TRANSIENT`` errors are
timeouts, connection errors, 429 (too many requests), 502 (bad gateway), 503
(unavailable) and 504 (gateway timeout); never 400, 401, 403, 404 or 422, which
fail the same way again, nor 500 (a bug the same request usually hits again),
nor ``"rejected"`` (our own bulkhead or queue shedding load: retrying at once adds
to it). A call that is not idempotent (a payment) is retried only if it carries
an idempotency key the receiver deduplicates on. At most ``max_attempts``
attempts in all (default 3, the SRE book's advice).

**Retry budget** (Finagle's ``RetryBudget``): retries may add at most
``ratio`` of the requests seen in the last ``window`` seconds, plus a floor of
``min_per_second`` retries per second. Defaults: 20 %, 10 s, 10 per second.
During a long outage a budget turns "3 attempts each" (3x the load) into at most
1.2x the load; a client with no budget triples the load on a sick service.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

JITTERS = ("none", "full", "equal", "decorrelated")
TRANSIENT = frozenset({"timeout", "connection", 429, 502, 503, 504})


def _positive(owner, name, value, *, allow_zero=False, allow_inf=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (value >= 0 if allow_zero else value > 0) and (allow_inf or value < math.inf)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")
    return float(value)


def _retry_number(retry):
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        raise ValueError(f"the retry number must be a whole number >= 0 (0 for the first retry), got {retry!r}")
    return retry


def exponential(retry: int, base: float, cap: float) -> float:
    """``min(cap, base * 2**retry)``: the capped exponential, before any jitter."""
    _retry_number(retry)
    if retry >= 1024:  # 2.0 ** 1024 overflows; the cap is long reached
        return cap
    return min(cap, base * 2.0**retry)


def no_jitter(retry: int, rng: random.Random | None, base: float, cap: float) -> float:
    """``min(cap, base * 2**retry)``; draws nothing from ``rng``."""
    return exponential(retry, base, cap)


def full_jitter(retry: int, rng: random.Random, base: float, cap: float) -> float:
    """``U(0, v)`` with ``v = min(cap, base * 2**retry)``."""
    return rng.uniform(0.0, exponential(retry, base, cap))


def equal_jitter(retry: int, rng: random.Random, base: float, cap: float) -> float:
    """``v/2 + U(0, v/2)`` with ``v = min(cap, base * 2**retry)``."""
    half = exponential(retry, base, cap) / 2
    return half + rng.uniform(0.0, half)


def decorrelated_jitter(previous: float, rng: random.Random, base: float, cap: float) -> float:
    """``min(cap, U(base, 3 * previous))``; ``previous`` is the last delay (``base`` at first)."""
    return min(cap, rng.uniform(base, 3.0 * previous))


@dataclass(frozen=True)
class Backoff:
    """A capped exponential backoff: ``jitter`` one of ``JITTERS``, ``base`` and ``cap`` in seconds.

    Defaults: full jitter, base 0.1 s, cap 20 s.
    """

    jitter: str = "full"
    base: float = 0.1
    cap: float = 20.0

    def __post_init__(self):
        if self.jitter not in JITTERS:
            raise ValueError(f"Backoff: jitter must be one of {JITTERS}, got {self.jitter!r}")
        _positive("Backoff", "base", self.base)
        _positive("Backoff", "cap", self.cap)
        if self.cap < self.base:
            raise ValueError(f"Backoff: cap must be >= base, got base={self.base!r}, cap={self.cap!r}")

    def delay(self, retry: int, rng: random.Random, previous: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 first). ``previous``
        (the last delay) matters to decorrelated jitter only."""
        _retry_number(retry)
        if self.jitter == "decorrelated":
            return decorrelated_jitter(self.base if previous is None else previous, rng, self.base, self.cap)
        scheme = {"none": no_jitter, "full": full_jitter, "equal": equal_jitter}[self.jitter]
        return scheme(retry, rng, self.base, self.cap)

    def schedule(self, retries: int, rng: random.Random) -> list[float]:
        """The delays before each of ``retries`` retries, in order."""
        delays, previous = [], None
        for n in range(_retry_number(retries)):
            previous = self.delay(n, rng, previous)
            delays.append(previous)
        return delays


def is_transient(error) -> bool:
    """True for the errors that may go away by themselves, ``TRANSIENT``:
    ``"timeout"``, ``"connection"`` (refused or reset: the service, or the
    instance the call reached, was down), 429, 502, 503 and 504. False for
    everything else (400, 404, 500, ``"rejected"``, ...)."""
    return error in TRANSIENT


def should_retry(error, attempts: int, max_attempts: int, *, idempotent: bool = True,
                 idempotency_key=None) -> bool:
    """Retry after ``attempts`` failed attempts (1 after the first) if the error
    is transient, fewer than ``max_attempts`` attempts have been made, and the call
    is idempotent or carries an ``idempotency_key`` (not None)."""
    safe = idempotent or idempotency_key is not None
    return safe and attempts < max_attempts and is_transient(error)


class RetryBudget:
    """Retries at most ``ratio`` of recent requests, plus ``min_per_second`` per second.

    Over the last ``window`` seconds (kept as ``buckets`` slices, so it slides
    in steps of ``window / buckets``), a retry is allowed while::

        retries + 1 <= ratio * requests + min_per_second * window

    Call :meth:`record_request` once per request (its first attempt) and
    :meth:`try_retry` before each retry: it counts the retry and returns True,
    or returns False and the caller gives up. Defaults are Finagle's:
    ``ratio=0.2``, ``window=10.0``, ``min_per_second=10.0``.
    """

    def __init__(self, ratio: float = 0.2, window: float = 10.0, min_per_second: float = 10.0, buckets: int = 10):
        self.ratio = _positive("RetryBudget", "ratio", ratio, allow_zero=True)
        self.window = _positive("RetryBudget", "window", window)
        self.min_per_second = _positive("RetryBudget", "min_per_second", min_per_second, allow_zero=True)
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise ValueError(f"RetryBudget: buckets must be a whole number >= 1, got {buckets!r}")
        self.buckets = buckets
        self._width = self.window / buckets
        self._slots = [[-1, 0, 0] for _ in range(buckets)]  # [bucket number, requests, retries]
        self.requests = 0  # totals since the start, for reports
        self.retries = 0
        self.refused = 0

    def _slot(self, now):
        number = math.floor(now / self._width)
        slot = self._slots[number % self.buckets]
        if slot[0] != number:
            slot[:] = [number, 0, 0]
        return number, slot

    def _recent(self, number):
        requests = retries = 0
        for start, req, ret in self._slots:
            if number - self.buckets < start <= number:
                requests += req
                retries += ret
        return requests, retries

    def record_request(self, now: float) -> None:
        """Count one request (a first attempt, not a retry)."""
        self._slot(now)[1][1] += 1
        self.requests += 1

    def allowance(self, now: float) -> float:
        """How many retries the window allows in all at ``now``."""
        number, _ = self._slot(now)
        requests, _ = self._recent(number)
        return self.ratio * requests + self.min_per_second * self.window

    def try_retry(self, now: float) -> bool:
        """Spend one retry if the budget allows it (True), else refuse (False)."""
        number, slot = self._slot(now)
        requests, retries = self._recent(number)
        if retries + 1 <= self.ratio * requests + self.min_per_second * self.window + 1e-9:
            slot[2] += 1
            self.retries += 1
            return True
        self.refused += 1
        return False


@dataclass
class Retry:
    """Retry transient failures up to ``max_attempts`` attempts in all, waiting ``backoff``
    between attempts, within ``budget`` if one is given.

    Defaults: 3 attempts, full-jitter backoff (base 0.1 s, cap 20 s), retry on
    ``TRANSIENT`` errors, no budget.
    """

    max_attempts: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    retry_on: frozenset = TRANSIENT
    budget: RetryBudget | None = None

    def __post_init__(self):
        m = self.max_attempts
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"Retry: max_attempts must be a whole number >= 1, got {m!r}")
        if not callable(getattr(self.backoff, "delay", None)):
            raise ValueError("Retry: backoff must have a delay(retry, rng, previous) method, such as "
                             f"Backoff('full', 0.1, 20); got {self.backoff!r}")
        self.retry_on = frozenset(self.retry_on)

    def started(self, now: float) -> None:
        """A new request starts (its first attempt): the budget counts it."""
        if self.budget is not None:
            self.budget.record_request(now)

    def next_delay(self, error, attempts: int, now: float, rng: random.Random,
                   previous: float | None = None) -> float | None:
        """After ``attempts`` attempts the last failed with ``error``: the seconds
        to wait before trying again, or None to give up. The decision, in order:
        an error not in ``retry_on`` -> None; ``max_attempts`` reached -> None;
        the budget refuses -> None; otherwise the backoff's delay for retry
        number ``attempts - 1``."""
        if error not in self.retry_on or attempts >= self.max_attempts:
            return None
        if self.budget is not None and not self.budget.try_retry(now):
            return None
        return self.backoff.delay(attempts - 1, rng, previous)
