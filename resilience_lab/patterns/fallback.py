"""The fallback: when a call fails, answer with something useful instead.

Rule: if the call's outcome is one of ``on`` (by default every outcome that is
not ``ok``: an error, a timeout, a rejection by a bulkhead, a short circuit),
the caller uses its fallback (cached data, a default answer, a degraded page)
and carries on; the call is recorded as ``fallback``, which the caller treats
as a usable answer. ``seconds`` is what producing the fallback costs (0 by
default: a value already in memory).

A fallback hides a failure from the caller's callers; it does not hide it from
the metrics, so a dashboard still sees the dependency failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..outcomes import Outcome

FAILURES = frozenset({Outcome.ERROR, Outcome.TIMEOUT, Outcome.REJECTED, Outcome.SHORT_CIRCUITED})


@dataclass(frozen=True)
class Fallback:
    """Replace a failed call's outcome by ``fallback`` when it is one of ``on``."""

    on: frozenset = FAILURES
    seconds: float = 0.0

    def __post_init__(self):
        bad = [o for o in self.on if o not in FAILURES]
        if bad:
            names = ", ".join(sorted(o.label for o in FAILURES))
            raise ValueError(f"Fallback on= takes failed outcomes ({names}), got {bad!r}")
        s = self.seconds
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not (0 <= s < math.inf):
            raise ValueError(f"Fallback seconds must be a number >= 0, got {s!r}")
        object.__setattr__(self, "on", frozenset(self.on))

    def outcome(self, outcome: Outcome) -> Outcome:
        """What the caller sees: ``fallback`` for a failure it covers, else ``outcome``."""
        return Outcome.FALLBACK if outcome in self.on else outcome
