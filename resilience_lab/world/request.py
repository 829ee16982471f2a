"""What travels with a call down the chain: its deadline, and whether anyone still waits.

The load sends each top-level call with a fresh :class:`Request`. A policy that
may stop waiting (a timeout, a deadline) sends the callee a *child* request
whose ``parent`` is the one it got, and marks the child ``abandoned`` when it
gives up. Policies that never give up pass the request on unchanged.

- ``deadline``: the absolute time after which nobody waits for the answer, or
  ``None``. Services honour it: a call that reaches a worker after its
  deadline is skipped, and a service stops before calling its dependencies
  once the deadline has passed (see :mod:`resilience_lab.world.service`).
- :meth:`dropped`: true once this request or any request above it was
  abandoned, so the work done for it is wasted. A service counts its work on a
  call as wasted if the call is dropped by the time it leaves the service
  (``RunResult.wasted``, and per call in ``RunResult.visits``), whether or not
  deadlines are used.
- ``refused_by``: the name of the last service that refused this request's
  connection, or reset it by going down while it held the call (``None`` until
  then). A retry reads it to tell a connection error from the service's own
  error status (see :mod:`resilience_lab.world.retry_policy`). A request
  travels down a chain unchanged, so it can name a service further down: only
  the name of the service a retry called means that service refused.
"""

from __future__ import annotations

from ..outcomes import Outcome

_TIMEOUT = Outcome.TIMEOUT


class Request:
    """One call's context. See the module docstring."""

    __slots__ = ("deadline", "parent", "abandoned", "refused_by")

    def __init__(self, deadline: float | None = None, parent: Request | None = None):
        self.deadline = deadline
        self.parent = parent
        self.abandoned = False
        self.refused_by = None

    def dropped(self) -> bool:
        """True if this request or one it was sent for has been abandoned."""
        request = self
        while request is not None:
            if request.abandoned:
                return True
            request = request.parent
        return False


def wait_at_most(env, call, request: Request, seconds: float):
    """Send ``call(request)`` as its own SimPy process and wait for its answer at
    most ``seconds``; on time-out mark ``request`` abandoned and return
    ``timeout`` (the callee's process goes on). A SimPy generator."""
    answer = env.process(call(request))
    yield answer | env.timeout(seconds)
    if answer.triggered:
        if request.refused_by is not None and request.parent is not None:
            request.parent.refused_by = request.refused_by  # the caller learns the connection failed
        return answer.value
    request.abandoned = True
    return _TIMEOUT
