"""Chaos Toolkit providers and a control that act on the simulated world.

An experiment file names these functions the way Chaos Toolkit names any Python
provider::

    {"type": "action", "name": "make B answer in 5 s",
     "provider": {"type": "python", "module": "resilience_lab.lessons.chaos_providers",
                  "func": "inject_latency", "arguments": {"service": "B", "seconds": 5}}}

They work on the *active* :class:`~resilience_lab.lessons.chaos_session.Session`,
which :func:`resilience_lab.lessons.chaos.run_experiment` sets up for one run (a
world, its clock, its faults). Run by Chaos Toolkit itself, with no session set up
(``chaoslib.experiment.run_experiment``, which its ``chaos run`` command calls), they
act on a session of the lesson's weak world, one per thread.

**Actions** (each fault starts now and lasts ``duration`` seconds, or, left out,
until a rollback calls :func:`end_faults`):

- ``inject_latency(service, seconds, jitter=0, duration=None)``: every call to
  ``service`` takes ``seconds`` longer;
- ``inject_errors(service, rate, duration=None)``: calls fail with probability ``rate``;
- ``take_down(service, mode="fail", duration=None)``: an outage; calls fail at once
  (``"fail"``) or never get an answer (``"hang"``);
- ``remove_capacity(service, workers, duration=None)``: each instance loses workers;
- ``chaos_monkey(service, duration, every=5, down_for=3, seed=0, mode="fail")``:
  kills a random instance at random times, on a schedule drawn from ``seed``;
- ``wait(seconds)``: lets simulated time pass (Chaos Toolkit's ``pauses`` would
  sleep in real time, so experiments here use this action instead);
- ``end_faults()``: the rollback: every fault still on ends now.

**Probes** (over the calls that started in the last ``window`` seconds; ``caller``
``"client"`` means the users' own requests): ``p99_latency``, ``p50_latency``
(seconds), ``error_rate`` (0 to 1), ``ok_per_second``; each takes
``(service, window=5, caller=None)``.

**Abort criteria**: the control of this module. In the experiment's ``controls``::

    {"name": "abort criteria",
     "provider": {"type": "python", "module": "resilience_lab.lessons.chaos_providers",
                  "arguments": {"probes": [<probes with tolerances>]}}}

While time passes, the probes are checked every simulated second; when one
leaves its tolerance the clock stops and the control interrupts the experiment
(Chaos Toolkit's ``InterruptExecution``); the rollbacks still run.
"""

from __future__ import annotations

import threading

from ..world.faults import FAIL
from . import chaos_session as S

_local = threading.local()


def active():
    """The session the providers act on (a fresh one of the weak world if none is set)."""
    session = getattr(_local, "session", None)
    if session is None:  # run by Chaos Toolkit itself (chaos run): the lesson's weak world
        from .chaos import _evaluate, weak_world
        session = _local.session = S.Session(weak_world(), evaluate=_evaluate({}))
    return session


def activate(session) -> None:
    """Make ``session`` the one the providers act on, in this thread (None: none)."""
    _local.session = session


def _fault(fault):
    return {"fault": fault.label, "start": fault.start, "end": None if fault.end == float("inf") else fault.end}


# -- actions -------------------------------------------------------------------
def inject_latency(service: str, seconds: float, jitter: float = 0.0, duration: float = None) -> dict:
    """Every call to ``service`` takes ``seconds`` longer (plus or minus ``jitter``)."""
    return _fault(active().inject(S.AddedLatency, service, duration, seconds=seconds, jitter=jitter))


def inject_errors(service: str, rate: float, duration: float = None) -> dict:
    """Calls to ``service`` fail with probability ``rate`` (0 to 1)."""
    return _fault(active().inject(S.ErrorRate, service, duration, rate=rate))


def take_down(service: str, mode: str = FAIL, duration: float = None) -> dict:
    """``service`` is down: calls fail at once (``"fail"``) or hang (``"hang"``)."""
    return _fault(active().inject(S.Outage, service, duration, mode=mode))


def remove_capacity(service: str, workers: int, duration: float = None) -> dict:
    """Each instance of ``service`` loses ``workers`` workers."""
    return _fault(active().inject(S.LostCapacity, service, duration, workers=workers))


def chaos_monkey(service: str, duration: float, every: float = 5.0, down_for: float = 3.0,
                 seed: int = 0, mode: str = FAIL) -> dict:
    """Kill random instances of ``service`` for ``duration`` seconds: a kill every
    ``every`` seconds on average, each instance dead for ``down_for`` seconds."""
    for name, value in (("duration", duration), ("every", every), ("down_for", down_for)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
            raise ValueError(f"chaos_monkey: {name} must be a number of seconds > 0 and <= 3600, got {value!r}")
    kills = active().chaos_monkey(service, duration=duration, every=every, down_for=down_for, seed=seed, mode=mode)
    return {"fault": f"{service}: Chaos Monkey", "kills": [[round(t, 3), i] for t, i in kills]}


def wait(seconds: float) -> dict:
    """Let ``seconds`` of simulated time pass, checking the abort criteria every
    second and the hypothesis every two."""
    session = active()
    try:
        session.advance(seconds)
    except S.Aborted:
        session.interrupt = True
        return {"aborted at": session.now}
    return {"now": session.now}


def end_faults() -> dict:
    """The rollback: every fault still on ends now."""
    session = active()
    session.end_faults()
    return {"now": session.now}


# -- probes --------------------------------------------------------------------
def p99_latency(service: str, window: float = 5.0, caller: str = None) -> float:
    """The p99 latency (s) of the calls to ``service`` that started in the last ``window`` s."""
    return active().measure("p99_latency", service, window, caller)


def p50_latency(service: str, window: float = 5.0, caller: str = None) -> float:
    """The median latency (s) of the calls to ``service`` that started in the last ``window`` s."""
    return active().measure("p50_latency", service, window, caller)


def error_rate(service: str, window: float = 5.0, caller: str = None) -> float:
    """The share of the answered calls to ``service`` (started in the last ``window`` s) that failed."""
    return active().measure("error_rate", service, window, caller)


def ok_per_second(service: str, window: float = 5.0, caller: str = None) -> float:
    """Good answers per second from ``service``, over the calls started in the last ``window`` s."""
    return active().measure("ok_per_second", service, window, caller)


# -- the abort control -----------------------------------------------------------
def configure_control(probes=None, experiment=None, **ignored) -> None:
    """Chaos Toolkit calls this when the experiment starts: register the abort criteria."""
    if not isinstance(probes, list) or not probes:
        raise ValueError("the abort control needs 'arguments': {'probes': [probes with tolerances]}")
    session = active()
    session.abort_when = list(probes)
    if not session.hypothesis and experiment:  # run by Chaos Toolkit itself: check it during the method too
        session.hypothesis = list((experiment.get("steady-state-hypothesis") or {}).get("probes", []))


def after_activity_control(context=None, state=None, **ignored) -> None:
    """After each activity: interrupt the experiment if ``wait`` stopped on an abort criterion."""
    from chaoslib.exceptions import InterruptExecution

    session = active()
    if getattr(session, "interrupt", False):
        session.interrupt = False
        check = session.aborted
        named = ", ".join(f"{name} = {value:.3g}" for name, value, within in check.probes if not within)
        raise InterruptExecution(f"abort criteria met at {check.time:g} s: {named}")
