"""Caller-side policies: where the resilience patterns plug into the world.

Every call from a caller to a target passes through the caller's chain of
policies for that target (``world.protect("A", "B", Timeout(0.5), ...)``).
The first policy named is the outermost: it sees the call first and the answer
last, as in Resilience4j's decorators.

A policy, on the SimPy side, is an object with one method::

    wrap(run, caller, target, call) -> call

where ``call`` is a generator function ``call(ctx) -> Outcome`` that SimPy can
``yield from``. ``wrap`` returns a new such function that does its part around
the one it was given. The pattern *cores* (in :mod:`resilience_lab.patterns`)
know nothing of SimPy; :func:`adapt` turns a core into a policy here, so the
same core object also runs in real time or in a grader.

A world keeps the policies it was given as its configuration and each run
works on a fresh copy, so a stateful core (a breaker) starts every run afresh.
The copy is made once per run for all routes: one core object protecting
several routes (a pool shared by two dependencies) is still one object in the run.
"""

from __future__ import annotations

from ..patterns.bulkhead import Bulkhead
from ..patterns.retry import Retry
from ..patterns.circuit_breaker import CircuitBreaker
from ..patterns.deadline import Deadline
from ..patterns.fallback import Fallback
from ..patterns.timeout import Timeout
from .breaker_policy import BreakerPolicy
from .deadline_policy import DeadlinePolicy
from .fallback_policy import FallbackPolicy
from .request import Request, wait_at_most
from .bulkhead_policy import BulkheadPolicy
from .retry_policy import RetryPolicy



class PassThrough:
    """Does nothing: the call goes straight to the target. Useful as a control."""

    def wrap(self, run, caller, target, call):
        return call


class TimeoutPolicy:
    """Stop waiting after ``core.seconds``; the target keeps working regardless.

    The call runs as its own SimPy process and the caller waits for whichever
    comes first, the answer or the timer (``yield answer | timer``). A late
    answer is dropped; the caller records ``timeout``. The callee gets a child
    request that is marked abandoned when the timer wins, so the work it does
    afterwards counts as wasted (a timeout, unlike a deadline, does not tell
    the callee to stop).
    """

    def __init__(self, core: Timeout):
        self.core = core

    def wrap(self, run, caller, target, call):
        env = run.env
        seconds = self.core.seconds

        def with_timeout(ctx):
            return (yield from wait_at_most(env, call, Request(ctx.deadline, ctx), seconds))

        return with_timeout


#: Core type -> the SimPy policy that adapts it. Later patterns add themselves.
ADAPTERS = {Timeout: TimeoutPolicy, Bulkhead: BulkheadPolicy, Retry: RetryPolicy}
ADAPTERS.update({CircuitBreaker: BreakerPolicy, Deadline: DeadlinePolicy, Fallback: FallbackPolicy})


def adapt(policy):
    """A SimPy policy from a pattern core, or the policy itself if it already is one."""
    if hasattr(policy, "wrap"):
        return policy
    adapter = ADAPTERS.get(type(policy))
    if adapter is None:
        known = ", ".join(sorted(t.__name__ for t in ADAPTERS))
        raise ValueError(
            f"{policy!r} is not a policy the world can use; use one of {known}, "
            "or an object with a wrap(run, caller, target, call) method"
        )
    return adapter(policy)
