"""The bulkhead in the simulated world: permits around a call.

:class:`BulkheadPolicy` adapts a :class:`~resilience_lab.patterns.bulkhead.Bulkhead`
core. With ``max_wait == 0`` (reject at once) the call path is
:func:`~resilience_lab.patterns.bulkhead.call_with_bulkhead`, or any function
with its signature passed as ``through=`` (the exercise passes the student's).

With ``max_wait > 0`` callers that find no permit wait in a first-come,
first-served line; a permit given back goes straight to the first in line. A
caller still in line after ``max_wait`` seconds is rejected, so its wait counts
in its latency. ``max_wait=math.inf`` is a thread pool with an unbounded queue,
and also what the source lesson's sketch does: it waits for a slot until the
caller's own deadline expires.

The same core object protecting several routes (``world.protect(CLIENT, "payment",
pool)`` and ``world.protect(CLIENT, "profile", pool)``) is one shared pool
within a run; a run never shares it with another run.
"""

from __future__ import annotations

import math
from collections import deque

from ..outcomes import Outcome
from ..patterns.bulkhead import call_with_bulkhead

_REJECTED = Outcome.REJECTED


class BulkheadPolicy:
    """Hold one of ``core``'s permits for the whole call; reject or wait when there is none."""

    def __init__(self, core, through=call_with_bulkhead):
        self.core = core
        self.through = through

    def wrap(self, run, caller, target, call):
        env, core = run.env, self.core

        def clock():
            return env.now

        max_wait = getattr(core, "max_wait", 0.0)
        if not max_wait:
            through = self.through

            def with_bulkhead(ctx):
                return (yield from through(core, lambda: call(ctx), clock))

            return with_bulkhead

        # One waiting line per core object in this run, shared by its routes.
        lines = run.__dict__.setdefault("_bulkhead_lines", {})
        line = lines.setdefault(id(core), deque())

        def with_waiting(ctx):
            if line or not core.try_acquire(env.now):
                ticket = env.event()
                line.append(ticket)
                if max_wait == math.inf:
                    yield ticket
                else:
                    yield ticket | env.timeout(max_wait)
                if not ticket.triggered:
                    line.remove(ticket)
                    core.reject(env.now)
                    return _REJECTED
            try:
                return (yield from call(ctx))
            finally:
                core.release(env.now)
                if line and core.try_acquire(env.now):
                    line.popleft().succeed()

        return with_waiting
