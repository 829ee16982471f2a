"""The timeout: the floor of resilience. No I/O, no clock: time is an argument.

Rule: a call that has not answered ``seconds`` after it started is abandoned.
The timeout frees the *caller*; it does nothing for the callee, which keeps
working on an answer nobody will read (unless a deadline travels with the call).

Choosing ``seconds``: start from the dependency's p99 latency in normal
operation and multiply by 2 to 3; too low and healthy-but-slow calls fail, too
high and a dead dependency holds workers for that long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Timeout:
    """Give up on a call ``seconds`` after it starts (``seconds > 0``)."""

    seconds: float

    def __post_init__(self):
        s = self.seconds
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0 < s < math.inf):
            raise ValueError(f"Timeout seconds must be a number > 0, got {s!r}")

    def deadline(self, now: float) -> float:
        """The time at which a call started at ``now`` is abandoned."""
        return now + self.seconds

    def expired(self, started: float, now: float) -> bool:
        """True once a call started at ``started`` has waited its full timeout."""
        return now - started >= self.seconds
