"""The simulated side of a chaos experiment: a world, a clock, faults, measurements.

A real chaos experiment runs against a live system: its actions break something
now, its probes read a dashboard over the last few seconds, and time passes
between them. A :class:`Session` gives the Chaos Toolkit providers
(:mod:`~resilience_lab.lessons.chaos_providers`) the same things in simulated time:

- ``now``: the experiment's clock, in simulated seconds. Only :meth:`Session.advance`
  moves it (the providers' ``wait`` action); probes read it, actions start their
  faults at it.
- ``faults``: what the actions injected so far. A fault starts at ``now`` and lasts
  its ``duration``, or until a rollback ends it (:meth:`Session.end_faults`).
- ``result``: the world run from 0 to ``now`` with those faults. Each advance runs
  the world again from 0 (a :class:`~resilience_lab.world.World` is a description
  and a seeded run repeats): a fault added at ``now`` changes nothing before ``now``,
  so the past stays as it was measured.

Rule for measurements (:func:`measure`): a probe at time ``now`` with a ``window``
of ``w`` seconds looks at the calls that *started* in ``[now - w, now)`` and uses
only what was known at ``now``: a call that had answered counts with its latency
and outcome; a call still waiting counts, for the latency, with the time it has
waited so far (a lower bound), and not at all for the error rate.

While the clock advances, every ``tick`` (1 s) the session checks the experiment's
**abort criteria** (probes with tolerances, registered by the providers' control):
when one leaves its tolerance the clock stops there and the experiment is aborted.
Every ``check_every`` seconds (2 s) it checks the steady-state hypothesis too: these
are the checks *during* the method.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random

import numpy as np

from ..outcomes import Outcome
from ..world import CLIENT, AddedLatency, ErrorRate, KilledInstance, LostCapacity, Outage
from ..world.faults import FAIL

#: Outcomes a caller can carry on with: not failures.
_GOOD = (int(Outcome.OK), int(Outcome.FALLBACK))
_UNFINISHED = int(Outcome.UNFINISHED)

#: What each measurement returns, for the probes and the plots.
MEASURES = {
    "p99_latency": "p99 latency (s)",
    "p50_latency": "median latency (s)",
    "error_rate": "share of calls failed",
    "ok_per_second": "good answers per second",
}


def _known_at(result, now, service, window, caller):
    """(started, finished, latency so far, outcome) of the calls to ``service`` that
    started in ``[now - window, now)``, as known at ``now``."""
    mask = result.calls_to(service, caller) & (result.start >= now - window) & (result.start < now)
    start, end, outcome = result.start[mask], result.end[mask], result.outcome[mask]
    finished = (end <= now) & (outcome != _UNFINISHED)
    latency = np.where(finished, end - start, now - start)
    return finished, latency, outcome


def measure(result, what, now, service, window=5.0, caller=None):
    """One of :data:`MEASURES` for the calls to ``service`` (from ``caller``, or
    from anyone) that started in ``[now - window, now)`` (see the module's rule).

    With no call in the window: latencies and the error rate are 0, as a
    dashboard shows an idle service. ``error_rate`` counts an answer as failed
    unless it is ``ok`` or a ``fallback``.
    """
    if what not in MEASURES:
        raise ValueError(f"unknown measurement {what!r}; choose from {', '.join(MEASURES)}")
    finished, latency, outcome = _known_at(result, now, service, window, caller)
    if what in ("p99_latency", "p50_latency"):
        if not latency.size:
            return 0.0
        return float(np.percentile(latency, 99 if what == "p99_latency" else 50))
    good = np.isin(outcome[finished], _GOOD)
    if what == "ok_per_second":
        return float(np.count_nonzero(good)) / window
    return float(1.0 - good.mean()) if good.size else 0.0


def series(result, what, service, *, window=5.0, caller=None, every=0.5, since=0.0, until=None):
    """``(times, values)``: :func:`measure` at every ``every`` seconds up to ``until``."""
    until = result.until if until is None else until
    times = np.arange(since + every, until + 1e-9, every)
    return times, np.array([measure(result, what, t, service, window, caller) for t in times])


def monkey_schedule(*, seed, start, duration, every, instances, down_for):
    """The Chaos Monkey's kills, drawn from ``random.Random(seed)``: a list of
    ``(time, instance)``. Kills come at exponential gaps of mean ``every``
    seconds from ``start`` until ``start + duration``; each picks one of
    ``instances`` at random and keeps it dead for ``down_for`` seconds."""
    rng = random.Random(f"monkey/{seed}")
    kills, t = [], start
    while True:
        t += rng.expovariate(1.0 / every)
        if t >= start + duration:
            return kills
        kills.append((t, rng.randrange(instances)))


class Aborted(Exception):
    """Raised by :meth:`Session.advance` when an abort criterion stopped the clock."""


@dataclasses.dataclass
class Check:
    """One check of the hypothesis (or of the abort criteria) at ``time``."""

    phase: str  # "before", "during", "end of method", "after" or "abort"
    time: float
    met: bool
    probes: list  # [(name, value, within tolerance)]


class Session:
    """One experiment's simulated world and clock. See the module docstring.

    ``evaluate(probes)`` checks probes (Chaos Toolkit probe dicts with tolerances)
    at the current clock and returns ``(met, [(name, value, within)])``; the runner
    supplies it (it calls Chaos Toolkit's own tolerance rules), so this module
    needs no Chaos Toolkit.
    """

    def __init__(self, world, *, warmup=20.0, tick=1.0, check_every=2.0, evaluate=None, hypothesis=()):
        self.world = world
        self.faults = []
        self.now = 0.0
        self.tick, self.check_every = tick, check_every
        self.evaluate = evaluate
        self.hypothesis = list(hypothesis)
        self.abort_when = []
        self.checks: list[Check] = []
        self.aborted: Check | None = None
        self.interrupt = False  # set by the wait action when it stopped on an abort criterion
        self.result = None
        self.advance(warmup, checking=False)

    # -- faults -----------------------------------------------------------------
    def _world(self):
        changed = copy.copy(self.world)
        changed.faults = list(self.world.faults) + self.faults
        return changed

    def inject(self, fault_type, service, duration=None, **fields):
        """Start a fault on ``service`` now, for ``duration`` seconds or until the
        rollbacks. ``fault_type`` is one of the world's fault classes."""
        if service not in self.world.services:
            raise ValueError(f"unknown service {service!r}; this world has: {', '.join(self.world.services)}")
        if duration is not None and not (isinstance(duration, (int, float)) and duration > 0):
            raise ValueError(f"duration must be a number of seconds > 0 (or left out), got {duration!r}")
        end = math.inf if duration is None else self.now + duration
        fault = fault_type(service=service, start=self.now, end=end, **fields)
        self._world_with(fault).check()
        self.faults.append(fault)
        return fault

    def _world_with(self, fault):
        world = self._world()
        world.faults = world.faults + [fault]
        return world

    def chaos_monkey(self, service, *, duration, every, down_for, seed, mode=FAIL):
        """Kill random instances of ``service`` on a seeded schedule (:func:`monkey_schedule`)."""
        spec = self.world.services.get(service)
        if spec is None:
            raise ValueError(f"unknown service {service!r}; this world has: {', '.join(self.world.services)}")
        kills = monkey_schedule(seed=seed, start=self.now, duration=duration, every=every,
                                instances=spec.instances, down_for=down_for)
        for time, instance in kills:
            self.faults.append(KilledInstance(service=service, instance=instance, mode=mode,
                                              start=time, end=time + down_for))
        return kills

    def end_faults(self):
        """End every fault still on (the rollbacks): a fault that has not started
        yet is dropped, one that is on ends now."""
        kept = []
        for fault in self.faults:
            if fault.start >= self.now:
                continue
            kept.append(dataclasses.replace(fault, end=min(fault.end, self.now)) if fault.end > self.now else fault)
        self.faults = kept

    def active_faults(self):
        return [f for f in self.faults if f.start <= self.now < f.end]

    # -- time -----------------------------------------------------------------
    def run_to(self, until):
        self.result = self._world().run(until)
        return self.result

    def advance(self, seconds, *, checking=True):
        """Let ``seconds`` of simulated time pass. With ``checking``, check the abort
        criteria every ``tick`` and the hypothesis every ``check_every`` seconds on
        the way; an abort stops the clock where it happened and raises :class:`Aborted`."""
        if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 < seconds <= 3600):
            raise ValueError(f"seconds must be a number > 0 and <= 3600, got {seconds!r}")
        start, target = self.now, self.now + seconds
        self.run_to(target)
        if not checking or self.evaluate is None:
            self.now = target
            return
        steps = int(round(seconds / self.tick))
        for step in range(1, steps + 1):
            t = min(target, start + step * self.tick)
            self.now = t
            if self.abort_when:
                met, probes = self.evaluate(self.abort_when)
                if not met:
                    self.aborted = Check("abort", t, False, probes)
                    self.check_hypothesis("during")
                    raise Aborted(f"aborted at {t:g} s")
            if self.hypothesis and _multiple(t - start, self.check_every):
                self.check_hypothesis("during")
        self.now = target

    def check_hypothesis(self, phase):
        met, probes = self.evaluate(self.hypothesis)
        check = Check(phase, self.now, met, probes)
        self.checks.append(check)
        return check

    # -- probes -----------------------------------------------------------------
    def measure(self, what, service, window=5.0, caller=None):
        """:func:`measure` at the clock, on the world run so far."""
        if service not in self.world.services:
            raise ValueError(f"unknown service {service!r}; this world has: {', '.join(self.world.services)}")
        if not (isinstance(window, (int, float)) and not isinstance(window, bool) and 0 < window <= 600):
            raise ValueError(f"window must be a number of seconds > 0 and <= 600, got {window!r}")
        if caller not in (None, CLIENT) and caller not in self.world.services:
            raise ValueError(f"unknown caller {caller!r}: use 'client', a service name, or leave it out")
        if self.result is None or self.result.until < self.now:
            self.run_to(self.now)
        return measure(self.result, what, self.now, service, window, caller)


def _multiple(elapsed, every):
    return abs(elapsed / every - round(elapsed / every)) < 1e-6


FAULTS = {
    "latency": AddedLatency, "errors": ErrorRate, "outage": Outage, "capacity": LostCapacity,
}
