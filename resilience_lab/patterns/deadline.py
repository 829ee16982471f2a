"""Deadlines that travel with a call and shrink at every hop. No clock inside.

A timeout is local: A gives up on B after ``seconds``, but B never hears of it
and keeps working, and so does everything B calls, on an answer nobody will
read. A *deadline* is the same limit written as an absolute time and sent along
with the request (gRPC's deadline propagation, Go's ``context.WithTimeout``):

    deadline of a call = min(the deadline it arrived with, now + seconds)

so the time left only ever shrinks as the request goes down the chain, and any
service can compare ``now`` with it and skip work its caller has already given
up on.

:func:`choose_timeout` picks a timeout from measured latencies: the smallest
value that at most a ``budget`` share of them exceed (the AWS Builders' Library
way: a 0.1% false-timeout budget means the p99.9). The rule of thumb of the
source lesson, "p99 times 2 to 3", is :func:`rule_of_thumb`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    """Give a call at most ``seconds`` (``> 0``), and never more than its caller had left."""

    seconds: float

    def __post_init__(self):
        s = self.seconds
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0 < s < math.inf):
            raise ValueError(f"Deadline seconds must be a number > 0, got {s!r}")

    def child(self, now: float, inherited: float | None = None) -> float:
        """The deadline of a call sent at ``now`` by a caller whose own deadline is ``inherited``."""
        own = now + self.seconds
        return own if inherited is None else min(own, inherited)

    @staticmethod
    def remaining(now: float, deadline: float | None) -> float:
        """Seconds left before ``deadline`` (``inf`` without one, never below 0)."""
        return math.inf if deadline is None else max(0.0, deadline - now)

    @staticmethod
    def expired(now: float, deadline: float | None) -> bool:
        """True once ``now`` has reached ``deadline``."""
        return deadline is not None and now >= deadline


def choose_timeout(samples, budget: float) -> float:
    """The smallest timeout that at most ``budget`` (a share, 0 <= budget < 1) of ``samples`` exceed.

    With ``n`` samples sorted ascending, ``k = floor(budget * n)`` of them may time
    out, so the timeout is the ``(n - k)``-th smallest sample.
    """
    values = sorted(float(x) for x in samples)
    if not values:
        raise ValueError("choose_timeout needs at least one latency sample, got none")
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not (0 <= budget < 1):
        raise ValueError(f"budget must be a share between 0 (inclusive) and 1 (exclusive), got {budget!r}")
    allowed = math.floor(budget * len(values) + 1e-9)
    return values[len(values) - 1 - allowed]


def rule_of_thumb(p99: float, factor: float = 2.5) -> float:
    """The source lesson's rule: the dependency's normal p99 times 2 to 3 (``factor``)."""
    if not 2 <= factor <= 3:
        raise ValueError(f"the rule of thumb multiplies the p99 by 2 to 3, got factor={factor!r}")
    return p99 * factor
