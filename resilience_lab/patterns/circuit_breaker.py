"""The circuit breaker: stop calling a dependency that keeps failing. No clock inside.

Like the breaker in a fuse box, it sits in the line between a caller and a
dependency. While the line is healthy it is **closed** and every call goes
through. When too many calls fail, it **opens**: calls fail at once, without
being sent, so the caller stops lending workers to a dependency that will not
answer. After ``open_for`` seconds it lets a few **probe** calls through
(**half-open**); if they succeed it closes, if one fails it opens again.

Two ways to decide that "too many" calls failed (``mode``):

- ``"rate"`` (the default; Resilience4j, Hystrix, Polly): over the calls recorded
  in the last ``window`` seconds, trip when ``failures / calls >= failure_rate``,
  but only once there are at least ``minimum_calls`` of them. An outcome recorded
  at time ``t`` counts while ``now - t < window``. The source lesson's own advice
  is 50% errors in 10 s.
- ``"consecutive"`` (pybreaker, the source lesson's code): trip after
  ``failure_threshold`` failures in a row; any success resets the count. At an
  error rate ``p`` the expected number of calls before a streak of ``n``
  failures is ``(1 - p**n) / ((1 - p) * p**n)``: at 60% errors and ``n = 20``
  that is about 68,000 calls, so such a breaker may never trip.

Slow calls: with ``slow_call_duration`` set, a success that took at least that
long counts as a failure (Resilience4j's slow-call rate, folded into one rate).

Half-open admits at most ``probes`` calls. A failing probe reopens the breaker
at once; ``probes`` successful probes close it (and empty the window). Every
other caller is refused meanwhile, so a recovering dependency sees a handful of
calls, not a herd. Outcomes recorded while open are ignored (they belong to
calls admitted before it opened).

Manual control: :meth:`force_open` (every call refused until :meth:`reset`),
:meth:`disable` (every call allowed and nothing counted until :meth:`reset`).

Defaults here are small, lesson-sized versions of the libraries' (see
``REFERENCES.md``): Resilience4j trips at 50% over at least 100 calls and stays
open 60 s, then allows 10 probes; Hystrix: 50% over 10 s with at least 20 calls,
open 5 s, one probe; Polly v8: 10% over 30 s, at least 100 calls, 5 s, one probe.
Here: 50% over 10 s, at least 20 calls, open 5 s, 1 probe.

Every state change is a :class:`Transition` appended to :attr:`CircuitBreaker.transitions`
and passed to each listener; the plots shade the state band from them. The
allowed changes are the data in :data:`TRANSITIONS`; the code looks every change
up there, and the lesson draws its state diagram from the same table.

Usage (``now`` is any monotonic clock, in seconds)::

    breaker = CircuitBreaker(failure_rate=0.5, window=10, minimum_calls=20)
    if breaker.allow(now):
        ok = do_the_call()
        breaker.record(later, ok, duration=later - now)
    else:
        ...  # short-circuited: fail fast or use a fallback
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
FORCED_OPEN = "forced_open"
DISABLED = "disabled"
STATES = (CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED)
MODES = ("rate", "consecutive")

#: state -> {trigger: next state}. Every state change the breaker makes is looked
#: up here; :func:`resilience_lab.figures.breaker.plot_state_diagram` draws it.
TRANSITIONS = {
    CLOSED: {"too many failures": OPEN, "force_open": FORCED_OPEN, "disable": DISABLED},
    OPEN: {"open period over": HALF_OPEN, "force_open": FORCED_OPEN, "disable": DISABLED},
    HALF_OPEN: {
        "a probe fails": OPEN,
        "probes succeed": CLOSED,
        "force_open": FORCED_OPEN,
        "disable": DISABLED,
    },
    FORCED_OPEN: {"reset": CLOSED, "disable": DISABLED},
    DISABLED: {"reset": CLOSED, "force_open": FORCED_OPEN},
}


@dataclass(frozen=True)
class Transition:
    """One state change: at ``time``, from ``source`` to ``target``, because of ``trigger``."""

    time: float
    source: str
    target: str
    trigger: str


def _number(name, value, *, low, high=math.inf, low_open=False, whole=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if whole:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "a whole number" if whole else "a number"
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        upper = "" if high == math.inf else f" and <= {high:g}"
        raise ValueError(f"CircuitBreaker: {name} must be {kind} {bound}{upper}, got {value!r}")
    return int(value) if whole else float(value)


class CircuitBreaker:
    """A circuit breaker as a pure state machine. See the module docstring.

    Parameters (all keyword-only):

    - ``mode``: ``"rate"`` or ``"consecutive"``.
    - ``failure_rate`` (rate mode): trip when failures / calls >= this, 0 < r <= 1. Default 0.5.
    - ``window`` (rate mode): seconds of history the rate looks at. Default 10.
    - ``minimum_calls`` (rate mode): no trip with fewer calls in the window. Default 20.
    - ``failure_threshold`` (consecutive mode): failures in a row that trip it. Default 5.
    - ``open_for``: seconds the breaker stays open before it lets probes through. Default 5.
    - ``probes``: calls half-open admits; that many successes close it. Default 1.
    - ``slow_call_duration``: a call at least this slow counts as a failure. Default None (off).
    """

    def __init__(self, *, mode="rate", failure_rate=0.5, window=10.0, minimum_calls=20,
                 failure_threshold=5, open_for=5.0, probes=1, slow_call_duration=None):
        if mode not in MODES:
            raise ValueError(f"CircuitBreaker: mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.failure_rate = _number("failure_rate", failure_rate, low=0.0, high=1.0, low_open=True)
        self.window = _number("window", window, low=0.0, low_open=True)
        self.minimum_calls = _number("minimum_calls", minimum_calls, low=1, whole=True)
        self.failure_threshold = _number("failure_threshold", failure_threshold, low=1, whole=True)
        self.open_for = _number("open_for", open_for, low=0.0)
        self.probes = _number("probes", probes, low=1, whole=True)
        if slow_call_duration is not None:
            slow_call_duration = _number("slow_call_duration", slow_call_duration, low=0.0, low_open=True)
        self.slow_call_duration = slow_call_duration
        self.state = CLOSED
        self.transitions: list[Transition] = []
        self.listeners: list = []
        self.rejected = 0  # calls refused (short-circuited)
        self._outcomes = deque()  # (time, failed) in the window, oldest first
        self._failures = 0  # failures in the window, or in a row (consecutive mode)
        self._opened_at = -math.inf
        self._probes_admitted = 0
        self._probes_succeeded = 0

    # -- the two calls a caller makes ----------------------------------------------
    def allow(self, now: float) -> bool:
        """May a call start at ``now``? ``False`` means: fail it at once, unsent.

        In OPEN, the first call at or after ``opened_at + open_for`` moves the
        breaker to HALF_OPEN; HALF_OPEN admits at most ``probes`` calls.
        """
        state = self.state
        if state == CLOSED or state == DISABLED:
            return True
        if state == OPEN and now >= self._opened_at + self.open_for:
            self._move("open period over", now)
            self._probes_admitted = self._probes_succeeded = 0
            state = HALF_OPEN
        if state == HALF_OPEN and self._probes_admitted < self.probes:
            self._probes_admitted += 1
            return True
        self.rejected += 1
        return False

    def record(self, now: float, ok: bool, duration: float | None = None) -> None:
        """Record how an admitted call ended at ``now``: ``ok`` or not, and how long it took."""
        failed = not ok or (
            self.slow_call_duration is not None and duration is not None and duration >= self.slow_call_duration
        )
        state = self.state
        if state == CLOSED:
            if self.mode == "consecutive":
                self._failures = self._failures + 1 if failed else 0
                if self._failures >= self.failure_threshold:
                    self._trip("too many failures", now)
                return
            outcomes = self._outcomes
            outcomes.append((now, failed))
            self._failures += failed
            self._slide(now)
            calls = len(outcomes)
            if calls >= self.minimum_calls and self._failures / calls >= self.failure_rate:
                self._trip("too many failures", now)
        elif state == HALF_OPEN:
            if failed:
                self._trip("a probe fails", now)
            else:
                self._probes_succeeded += 1
                if self._probes_succeeded >= self.probes:
                    self._clear()
                    self._move("probes succeed", now)
        # OPEN, FORCED_OPEN, DISABLED: nothing is counted.

    # -- what the window holds -------------------------------------------------------
    def calls_in_window(self, now: float) -> tuple[int, int]:
        """(calls, failures) that count at ``now`` (rate mode), or (0, failures in a row)."""
        if self.mode == "consecutive":
            return 0, self._failures
        self._slide(now)
        return len(self._outcomes), self._failures

    @property
    def opened_at(self) -> float:
        """When the breaker last opened (``-inf`` if never)."""
        return self._opened_at

    # -- manual control ----------------------------------------------------------------
    def force_open(self, now: float) -> None:
        """Refuse every call until :meth:`reset` (Polly's Isolate)."""
        self._move("force_open", now)

    def disable(self, now: float) -> None:
        """Allow every call and count nothing until :meth:`reset`."""
        self._move("disable", now)

    def reset(self, now: float) -> None:
        """Back to CLOSED with an empty window, from FORCED_OPEN or DISABLED."""
        self._clear()
        self._move("reset", now)

    def add_listener(self, listener) -> None:
        """Call ``listener(transition)`` on every state change."""
        self.listeners.append(listener)

    # -- inside ------------------------------------------------------------------------
    def _slide(self, now: float) -> None:
        outcomes, horizon = self._outcomes, now - self.window
        while outcomes and outcomes[0][0] <= horizon:
            self._failures -= outcomes.popleft()[1]

    def _clear(self) -> None:
        self._outcomes.clear()
        self._failures = 0

    def _trip(self, trigger: str, now: float) -> None:
        self._clear()
        self._opened_at = now
        self._move(trigger, now)

    def _move(self, trigger: str, now: float) -> None:
        target = TRANSITIONS[self.state].get(trigger)
        if target is None:
            allowed = ", ".join(TRANSITIONS[self.state]) or "nothing"
            raise ValueError(f"a {self.state} breaker cannot {trigger!r}; from {self.state} it can: {allowed}")
        change = Transition(float(now), self.state, target, trigger)
        self.state = target
        self.transitions.append(change)
        for listener in self.listeners:
            listener(change)

    def __repr__(self):
        if self.mode == "rate":
            rule = f"{self.failure_rate:.0%} of >= {self.minimum_calls} calls in {self.window:g} s"
        else:
            rule = f"{self.failure_threshold} failures in a row"
        return f"CircuitBreaker({self.state}, trips at {rule}, open {self.open_for:g} s, {self.probes} probe(s))"
