"""The fallback chain: what a page shows when one of its parts cannot be fetched. No clock inside.

Think of a shop window with a card per product. When the supplier's phone line is
dead you leave last week's card up, if it is not too old; else you put up a
"back soon" card; else you leave the space empty. You never put up a card that
is so old it lies, and some cards (the price) you never guess at all: if you
cannot get the price, you do not sell.

Rule, for one dependency of a page, on each request (:meth:`FallbackChain.serve`):

1. **call**: call the dependency once. If it answers, serve that answer
   (``"fresh"``, age 0) and remember it, with the time, for this ``key``.
2. **cache**: if the call failed and the last answer remembered for this ``key``
   is at most ``max_age`` seconds old, serve it (``"cache"``, with its age).
   Older data is refused: serving it would be stale-while-error without a limit.
3. **default**: else, if there is a ``default``, serve it (``"default"``, no age),
   such as "recommendations are unavailable".
4. **degrade**: else leave the part out of the page (``"degraded"``, no value).

A **critical** dependency (``critical=True``) has no fallback: step 1 alone, and
a failure is served as ``"failed"``, which fails the whole page at once. Use it
where a wrong answer is worse than none (the price, the product itself, a
payment). ``steps`` picks any other subset of the steps, in this order, to
compare the options (``("call",)`` is an error that propagates, ``("call",
"cache")`` a cache and nothing else); ``max_age=math.inf`` is a cache of any
age. When no step can answer, the answer is ``"failed"``.

The chain never calls the dependency a second time for one request: a fallback
that calls the failing dependency again doubles the load on it just when it
is weakest, and doubles the wait.

``call`` is a function of no arguments that returns the dependency's answer or
raises (any ``Exception``: a refused connection, a timeout). Each answer is a
:class:`Served` ``(source, value, age)``; :attr:`FallbackChain.served` counts
the answers by source, because fallbacks hide a failure from the page's users,
and must not hide it from its operators: the number of fallbacks served is
itself a metric to alert on.

Defaults: ``max_age=60`` s, no default value, every step.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import NamedTuple

#: The steps of the chain, in the order it tries them.
STEPS = ("call", "cache", "default", "degrade")
#: What a request can be served: one per step, and ``"failed"`` when none answered.
SOURCES = ("fresh", "cache", "default", "degraded", "failed")
#: Which step gives which source.
SOURCE_OF = {"call": "fresh", "cache": "cache", "default": "default", "degrade": "degraded"}


class Served(NamedTuple):
    """One request's answer: where it came from, the value, and its age in seconds
    (0 for a fresh answer, ``None`` where there is no data: default, degraded, failed)."""

    source: str
    value: object
    age: float | None


class FallbackChain:
    """Call, then cache (at most ``max_age`` s old), then default, then degrade. See the module docstring."""

    def __init__(self, max_age: float = 60.0, default=None, critical: bool = False, *, steps=STEPS):
        ok = isinstance(max_age, (int, float)) and not isinstance(max_age, bool) and not math.isnan(max_age)
        if not ok or max_age < 0:
            raise ValueError(f"FallbackChain: max_age must be a number of seconds >= 0 (or math.inf), got {max_age!r}")
        steps = tuple(steps)
        unknown = [s for s in steps if s not in STEPS]
        if unknown or not steps or steps[0] != "call" or list(steps) != sorted(steps, key=STEPS.index) \
                or len(set(steps)) != len(steps):
            raise ValueError(f"FallbackChain: steps must start with 'call' and keep the order {STEPS}, "
                             f"each at most once; got {steps!r}")
        if critical and steps != STEPS and steps != ("call",):
            raise ValueError(f"FallbackChain: a critical dependency has no fallback steps, got steps={steps!r}")
        self.max_age = float(max_age)
        self.default = default
        self.critical = bool(critical)
        self.steps = ("call",) if critical else steps
        self.served = Counter()  # source -> how many requests were served from it
        self._cache = {}  # key -> (time of the answer, the answer)

    def serve(self, now: float, key, call) -> Served:
        """Serve one request for ``key`` at ``now``; ``call()`` asks the dependency (once)."""
        try:
            value = call()
        except Exception:
            answer = self._fall_back(now, key)
        else:
            self._cache[key] = (now, value)
            answer = Served("fresh", value, 0.0)
        self.served[answer.source] += 1
        return answer

    def _fall_back(self, now, key) -> Served:
        for step in self.steps[1:]:
            if step == "cache" and key in self._cache:
                stored_at, value = self._cache[key]
                age = now - stored_at
                if age <= self.max_age:
                    return Served("cache", value, age)
            elif step == "default" and self.default is not None:
                return Served("default", self.default, None)
            elif step == "degrade":
                return Served("degraded", None, None)
        return Served("failed", None, None)

    @property
    def fallbacks(self) -> int:
        """Requests served by a fallback (cache, default or degraded): the number to alert on."""
        return self.served["cache"] + self.served["default"] + self.served["degraded"]

    def __repr__(self):
        if self.critical:
            return "FallbackChain(critical: no fallback)"
        return f"FallbackChain({' -> '.join(self.steps)}, max_age={self.max_age:g} s, default={self.default!r})"
