"""Lesson 3: the circuit breaker.

The world: the load calls A (50 workers) at 150 per second, A calls B (about
20 ms), and A gives up on B after 500 ms (the source lesson's timeout). B goes
down from t = 10 s to t = 20 s and hangs: no answer, ever. Without a breaker,
each of A's calls holds a worker for the full 500 ms: 150 x 0.5 = 75 workers
wanted, 50 available, so A's pool fills and its queue grows. With a breaker, A
stops sending after a second or so and fails at once.

The lesson's breaker, :data:`LESSON_BREAKER`: 50% failures over a 2 s window
with at least 20 calls, open 3 s, 1 probe. Against a total outage, a rate
window trips when the failures fill half of it: after ``window / 2`` seconds
of failures (here 1 s; with the usual 10 s, 5 s).

:class:`NaiveBreaker` is the source lesson's breaker, faithfully: it counts
failures in a row (one success resets the count) and, once the open period is
over, lets *every* caller through until one of them fails.
"""

from __future__ import annotations

import math

from ..outcomes import Outcome
from ..patterns.circuit_breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from ..figures.panel import Panel, slider
from .measure import p99, peak_busy, recovered_at  # noqa: F401  (the lesson uses them as lesson.*)
from ..patterns.timeout import Timeout
from ..world import LogNormal, World
from ..world.breaker_policy import BreakerPolicy, breaker_states

B_LATENCY = LogNormal(median=0.020, sigma=0.25)
TIMEOUT = 0.5
OUTAGE = (10.0, 20.0)
UNTIL = 30.0
#: The lesson's breaker settings (a 2 s window so that it trips in about 1 s).
LESSON_BREAKER = dict(failure_rate=0.5, window=2.0, minimum_calls=20, open_for=3.0, probes=1)


def lesson_breaker(**changes) -> CircuitBreaker:
    """The reference breaker with the lesson's settings (see :data:`LESSON_BREAKER`)."""
    return CircuitBreaker(**{**LESSON_BREAKER, **changes})


def outage_world(breaker=None, *, mode="hang", outage=OUTAGE, rate=150.0, a_workers=50,
                 error_rate=None, seed=3, sample_every=0.1) -> World:
    """load -> A -> B; B down (``mode``) during ``outage``, or failing ``error_rate`` of calls.

    ``breaker``: a breaker core (or anything with ``allow``/``record``/``state``),
    put outside A's 500 ms timeout; ``None`` for the timeout alone.
    """
    world = World(seed=seed, sample_every=sample_every)
    world.service("B", workers=200, latency=B_LATENCY)
    world.service("A", workers=a_workers, latency=0.001, calls=["B"])
    world.load("A", rate=rate)
    if outage:
        if error_rate is None:
            world.inject_outage("B", mode=mode, start=outage[0], end=outage[1])
        else:
            world.inject_errors("B", error_rate, start=outage[0], end=outage[1])
    policies = [] if breaker is None else [BreakerPolicy(breaker)]
    world.protect("A", "B", *policies, Timeout(TIMEOUT))
    return world


class NaiveBreaker:
    """The source lesson's breaker, translated from its Go code to ``allow``/``record``.

    Flaws kept on purpose: ``failures`` counts failures in a row, because a
    success sets it to 0; and when the open period is over, ``allow`` flips the
    state to half-open and lets every caller through, not one.
    """

    def __init__(self, threshold=5, open_for=3.0):
        self.threshold = threshold
        self.open_for = open_for
        self.state = CLOSED
        self.failures = 0
        self.last_failure = -math.inf

    def allow(self, now):
        if self.state == OPEN:
            if now - self.last_failure > self.open_for:
                self.state = HALF_OPEN
            else:
                return False
        return True

    def record(self, now, ok):
        if not ok:
            self.failures += 1
            self.last_failure = now
            if self.failures >= self.threshold or self.state == HALF_OPEN:
                self.state = OPEN
        else:
            self.failures = 0
            self.state = CLOSED


# -- measurements ---------------------------------------------------------------------
def sent_during(result, since, until, route="A->B"):
    """Calls A actually sent to B (not short-circuited) that started in ``[since, until)``."""
    caller, target = route.split("->")
    mask = result.calls_to(target, caller) & (result.outcome != Outcome.SHORT_CIRCUITED)
    return int(((result.start >= since) & (result.start < until) & mask).sum())


def sent_while_tripped(result, route="A->B", outage=OUTAGE):
    """Calls sent to the dependency after the breaker first opened, until the outage ended:
    the probes (and, for a naive breaker, the herd behind them)."""
    opened = [t for t, state in breaker_states(result, route) if state == OPEN and t < outage[1]]
    return sent_during(result, opened[0], outage[1], route) if opened else sent_during(result, *outage, route)


def half_open_episodes(result, route="A->B", outage=OUTAGE):
    """How many times the breaker went half-open during the outage."""
    return sum(1 for t, state in breaker_states(result, route) if state == HALF_OPEN and outage[0] <= t < outage[1])


def streak_calls(error_rate, threshold):
    """Expected calls until ``threshold`` failures in a row at ``error_rate``:
    ``(1 - p**n) / ((1 - p) * p**n)``."""
    p, n = error_rate, threshold
    return (1 - p**n) / ((1 - p) * p**n)


def transitions(result, route="A->B"):
    """The breaker's ``[(time, state)]`` in a run, rounded for reading."""
    return [(round(t, 2), s) for t, s in breaker_states(result, route)]


# -- figures and the panel ----------------------------------------------------------------
def compare(*, mode="hang", error_rate=None, breakers=None, title=None):
    """Run the outage world once per breaker (label -> breaker or None) and plot them together."""
    from ..figures.breaker import plot_breaker_runs

    breakers = breakers or {"timeout only": None, "breaker": lesson_breaker()}
    results = {label: outage_world(b, mode=mode, error_rate=error_rate).run(UNTIL) for label, b in breakers.items()}
    return results, plot_breaker_runs(results, title=title)


class BreakerPanel(Panel):
    """Take B down (refusing or hanging), tune the breaker, and watch A with and without it.

    Each change re-runs the world with the breaker on a background thread (the
    latest setting wins, see :class:`~resilience_lab.figures.panel.Panel`) and redraws one
    :class:`~resilience_lab.figures.breaker.BreakerFigure`. The run without the
    breaker depends only on the outage, so moving a breaker slider reuses it.
    """

    LABELS = ("timeout only", "with the breaker")

    def __init__(self):
        import ipywidgets as widgets

        from ..figures.breaker import BreakerFigure

        self.controls = {
            "mode": widgets.ToggleButtons(options=[("B hangs", "hang"), ("B refuses", "fail")], value="hang"),
            "outage": slider("outage (s)", value=10.0, min=2.0, max=18.0, step=1.0, integer=False),
            "failure_rate": slider("trip at failure rate", value=0.5, min=0.1, max=1.0, step=0.05, integer=False),
            "open_for": slider("open for (s)", value=3.0, min=0.5, max=10.0, step=0.5, integer=False),
        }
        self.figure = BreakerFigure(self.LABELS, title="B is down in the shaded window")
        self._without = {}  # (mode, outage) -> the run without a breaker
        super().__init__()

    @property
    def results(self):
        return self.result

    def simulate(self, settings):
        outage = (OUTAGE[0], OUTAGE[0] + settings["outage"])
        key = (settings["mode"], outage)
        if key not in self._without:
            self._without = {key: outage_world(None, mode=settings["mode"], outage=outage).run(UNTIL)}
        breaker = lesson_breaker(failure_rate=settings["failure_rate"], open_for=settings["open_for"])
        with_breaker = outage_world(breaker, mode=settings["mode"], outage=outage).run(UNTIL)
        return dict(zip(self.LABELS, (self._without[key], with_breaker)))

    def describe(self, results, seconds):
        outage = (OUTAGE[0], OUTAGE[0] + self.controls["outage"].value)
        healed = recovered_at(results[self.LABELS[1]], outage[1])
        return (f"with the breaker, A answered ok again {healed - outage[1]:.2f} s after B healed; "
                f"A sent {sent_during(results[self.LABELS[0]], *outage)} calls into the outage "
                f"without it, {sent_during(results[self.LABELS[1]], *outage)} with it")


def panel() -> BreakerPanel:
    """The lesson's panel (see :class:`BreakerPanel`)."""
    return BreakerPanel()
