"""Retries in the simulated world.

:class:`RetryPolicy` adapts a :class:`~resilience_lab.patterns.retry.Retry`
core: it sends the call, and while the answer is not usable asks the core what
to do, waits the delay it returns (simulated time), and sends the call again.
The run records one call per request, however many attempts it took; every
attempt shows in ``result.arrivals[target]``.

What the core sees as the error of a failed attempt:

- ``"timeout"``: the attempt timed out (a Timeout policy inside the retry);
- ``"connection"``: the target refused the connection (it, or the instance the
  call went to, was down), or reset it by going down while it held the call;
- otherwise the target's ``error_status`` (``world.service(..., error_status=404)``,
  503 by default);
- ``"rejected"``: a local bulkhead or breaker refused it (never transient).

Each retry policy draws its jitter from its own ``random.Random`` (the run's
stream for the route: seeded from the run's seed, the caller and the target;
a second retry on the same route gets a stream of its own).
"""

from __future__ import annotations

from ..outcomes import USABLE, Outcome

_TIMEOUT, _ERROR = Outcome.TIMEOUT, Outcome.ERROR


class RetryPolicy:
    """Send the call again while ``core.next_delay(...)`` returns a delay."""

    def __init__(self, core):
        self.core = core

    def wrap(self, run, caller, target, call):
        env, core = run.env, self.core
        rng = run.stream(f"retry/{caller}/{target}")
        status = run.services[target].spec.error_status

        def error_of(outcome, ctx):
            if outcome == _TIMEOUT:
                return "timeout"
            if outcome == _ERROR:
                return "connection" if ctx.refused_by == target else status
            return "rejected"

        def with_retries(ctx):
            core.started(env.now)
            attempts, previous = 0, None
            while True:
                ctx.refused_by = None  # this attempt's answer only
                outcome = yield from call(ctx)
                attempts += 1
                if outcome in USABLE:
                    return outcome
                delay = core.next_delay(error_of(outcome, ctx), attempts, env.now, rng, previous)
                if delay is None:
                    return outcome
                previous = delay
                if delay > 0:
                    yield env.timeout(delay)

        return with_retries
