"""The circuit breaker in the simulated world: a SimPy policy around a breaker core.

Each call asks the core ``allow(now)``. If it says no, the call ends at once as
``short-circuited``: nothing is sent and no worker of the target is used. If it
says yes, the call goes on down the chain and its outcome is recorded with
``record(now, ok, duration)``: only ``ok`` is a success; errors, timeouts,
rejections and short circuits further down are failures (as in Hystrix). Put a
timeout *inside* the breaker (``protect("A", "B", breaker, Timeout(1))``) so a
hung dependency shows up as failures the breaker can count.

Any object with ``allow(now)``, ``record(now, ok)`` and a ``state`` works as the
core, so a student's breaker runs here unchanged (``record`` receives
``duration=`` only if it accepts it). Every change of ``state`` is written to the
run's events as ``(time, "A->B", "breaker", state)``, starting with the state at
t = 0; :func:`breaker_states` reads them back for the plots.
"""

from __future__ import annotations

import enum
import inspect

from ..outcomes import Outcome

_OK, _SHORT = Outcome.OK, Outcome.SHORT_CIRCUITED


def state_name(state) -> str:
    """A breaker state as a lower-case string: ``State.HALF_OPEN`` -> ``"half_open"``."""
    if isinstance(state, enum.Enum):
        state = state.value if isinstance(state.value, str) else state.name
    return str(state).strip().lower().replace("-", "_").replace(" ", "_")


def _takes_duration(record) -> bool:
    try:
        parameters = inspect.signature(record).parameters
    except (TypeError, ValueError):
        return False
    return "duration" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class BreakerPolicy:
    """Fail fast while ``core`` (a circuit breaker) refuses calls; record every outcome."""

    def __init__(self, core):
        for method in ("allow", "record"):
            if not callable(getattr(core, method, None)):
                raise ValueError(f"a circuit breaker needs an {method}() method; {core!r} has none")
        self.core = core

    def wrap(self, run, caller, target, call):
        env, core, events = run.env, self.core, run.events
        route = f"{caller}->{target}"
        with_duration = _takes_duration(core.record)
        last = [state_name(core.state)]
        events.append((0.0, route, "breaker", last[0]))

        def note():
            state = state_name(core.state)
            if state != last[0]:
                last[0] = state
                events.append((env.now, route, "breaker", state))

        def with_breaker(ctx):
            started = env.now
            allowed = core.allow(started)
            note()
            if not allowed:
                return _SHORT
            outcome = yield from call(ctx)
            if with_duration:
                core.record(env.now, outcome == _OK, duration=env.now - started)
            else:
                core.record(env.now, outcome == _OK)
            note()
            return outcome

        return with_breaker


def breaker_states(result, route: str):
    """``[(time, state), ...]`` of the breaker on ``route`` (``"A->B"``) in a run, oldest first."""
    return [(t, detail) for t, where, what, detail in result.events if where == route and what == "breaker"]
