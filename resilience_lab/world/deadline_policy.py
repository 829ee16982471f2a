"""Deadlines in the simulated world: a timeout that tells the callee when to stop.

:class:`DeadlinePolicy` adapts a :class:`~resilience_lab.patterns.deadline.Deadline`.
It computes the call's deadline, ``min(ctx.deadline, now + seconds)``, sends the
callee a child request carrying it, and stops waiting at that time, as a timeout
would. Because the deadline travels with the request, the services down the
chain skip or stop work that nobody waits for any more (see
:mod:`resilience_lab.world.service`). A call whose caller has no time left is
not sent at all.
"""

from __future__ import annotations

from ..outcomes import Outcome
from ..patterns.deadline import Deadline
from .request import Request, wait_at_most

_TIMEOUT = Outcome.TIMEOUT


class DeadlinePolicy:
    """Give the call ``core.seconds`` at most, never more than the caller has left."""

    def __init__(self, core: Deadline):
        self.core = core

    def wrap(self, run, caller, target, call):
        env, child = run.env, self.core.child

        def with_deadline(ctx):
            now = env.now
            deadline = child(now, ctx.deadline)
            if deadline <= now:
                return _TIMEOUT  # no time left: do not even send it
            return (yield from wait_at_most(env, call, Request(deadline, ctx), deadline - now))

        return with_deadline
