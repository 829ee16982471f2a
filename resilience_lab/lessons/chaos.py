"""Lesson 7: chaos engineering, experiments as data run against the simulated world.

An experiment is a genuine Chaos Toolkit experiment (a dict, or a JSON or YAML
file): a title and description, a **steady-state hypothesis** (probes with
tolerances), a **method** (actions that inject faults, and ``wait``), and
**rollbacks**. Its providers are the Python functions of
:mod:`~resilience_lab.lessons.chaos_providers`, which act on a simulated world.

:func:`run_experiment` runs one through Chaos Toolkit's own engine
(``chaoslib.run.Runner``: hypothesis before the method, the method, the hypothesis
after it, the rollbacks), with a :class:`~resilience_lab.lessons.chaos_session.Session`
as the world the providers act on, after ``warmup`` (10) seconds of steady state.
Two things are added around the engine, both in simulated time: while ``wait``
lets time pass the hypothesis is checked every 2 s (*during*) and the abort
criteria every second; and after the rollbacks the world gets ``recovery``
seconds (15) before the hypothesis is checked a last
time (*after*). The :class:`Report` says whether the hypothesis held or deviated,
which probe and when, and whether the abort criteria stopped the experiment.

The lesson's world (:func:`weak_world`) has a planted weakness: A calls B with a
fallback ready for B's *failures*, but no timeout, so a *slow* B never fails and
the fallback never fires. :func:`protect` is the fix (a timeout inside the
fallback); :func:`fixed_world` is the world with it.

Only this package's providers may appear in an experiment run here
(:func:`validate`): no ``process`` or ``http`` provider, no secrets, no
configuration read from the environment, no ``pauses`` (they would sleep in real
time) and no ``background`` activity.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import threading
from pathlib import Path

import numpy as np

from ..figures.panel import Panel, slider
# The patterns a fix may use; exercise 7 imports them from here.
from ..patterns import Backoff, CircuitBreaker, Fallback, Retry, Timeout  # noqa: F401
from ..world import CLIENT, LogNormal, World
from . import chaos_providers as providers
from . import chaos_session as S

MODULE = providers.__name__
EXPERIMENTS = Path(__file__).with_name("experiments")
#: Seconds of steady state before an experiment starts, and after its rollbacks.
WARMUP, RECOVERY = 10.0, 15.0
#: Every activity's provider must be one of these functions of :mod:`chaos_providers`.
ACTIONS = ("inject_latency", "inject_errors", "take_down", "remove_capacity", "chaos_monkey", "wait",
           "end_faults")
PROBES = tuple(S.MEASURES)

# Chaos Toolkit logs to the "chaostoolkit" logger; without a handler Python would
# print its warnings in the notebook. Its journal and our report say it all.
logging.getLogger("chaostoolkit").addHandler(logging.NullHandler())
logging.getLogger("chaostoolkit").propagate = False


# -- the lesson's world ---------------------------------------------------------
def weak_world(seed: int = 7) -> World:
    """Users call A (50 per second, giving up after 2 s); A (3 instances of 15
    workers) calls B (2 instances of 25), which answers in about 20 ms. A has a
    fallback for B's failures, but no timeout on B."""
    world = World(seed=seed)
    world.service("B", workers=25, latency=LogNormal(0.02), instances=2)
    world.service("A", workers=15, latency=LogNormal(0.005), calls=["B"], instances=3)
    world.load("A", rate=50)
    world.protect(CLIENT, "A", Timeout(2.0))  # the user's browser gives up after 2 s
    world.protect("A", "B", Fallback())  # the planted weakness: no timeout inside the fallback
    return world


def protect(world: World) -> World:
    """The fix: a 250 ms timeout inside A's fallback on B (about 10x B's p99),
    so a slow B becomes a failure the fallback can answer."""
    world.protect("A", "B", Fallback(), Timeout(0.25))
    return world


def fixed_world(seed: int = 7) -> World:
    """:func:`weak_world` with :func:`protect` applied."""
    return protect(weak_world(seed))


def shop_world(seed: int = 11) -> World:
    """The exercise's world: users call ``web`` (40 per second, giving up after 2 s);
    ``web`` (2 instances of 20 workers) calls ``reviews`` (2 instances of 20, about
    30 ms) with a fallback, and a timeout of 10 s inside it."""
    world = World(seed=seed)
    world.service("reviews", workers=20, latency=LogNormal(0.03), instances=2)
    world.service("web", workers=20, latency=LogNormal(0.01), calls=["reviews"], instances=2)
    world.load("web", rate=40)
    world.protect(CLIENT, "web", Timeout(2.0))
    world.protect("web", "reviews", Fallback(), Timeout(10.0))
    return world


def shop_world_fixed(seed: int = 11) -> World:
    """:func:`shop_world` with a 300 ms timeout (about 5x reviews' p99) inside the fallback."""
    return shop_world(seed).protect("web", "reviews", Fallback(), Timeout(0.3))


# -- experiments as data --------------------------------------------------------
def load_experiment(path) -> dict:
    """An experiment file (JSON or YAML), read by Chaos Toolkit's own loader."""
    from chaoslib.loader import load_experiment as chaos_load

    return chaos_load(str(path))


def lesson_experiment(name: str = "b-answers-slowly") -> dict:
    """One of the lesson's experiment files, from ``resilience_lab/lessons/experiments/``."""
    path = EXPERIMENTS / f"{name}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in EXPERIMENTS.glob("*.json")))
        raise ValueError(f"no experiment {name!r}; the lesson has: {known}")
    return load_experiment(path)


def _walk(value, path="experiment"):
    """Every dict inside ``value``, with where it is."""
    if isinstance(value, dict):
        yield path, value
        for key, inner in value.items():
            yield from _walk(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk(inner, f"{path}[{i}]")


def validate(experiment) -> dict:
    """Check ``experiment`` with Chaos Toolkit (``ensure_experiment_is_valid``) and
    against this course's rules (see the module); raise ``ValueError`` naming what
    is wrong. Returns the experiment."""
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    if not isinstance(experiment, dict):
        raise ValueError(f"an experiment is a dict (the JSON of an experiment file), got {type(experiment).__name__}")
    if experiment.get("secrets"):
        raise ValueError("experiment.secrets: this course's experiments need no secrets")
    for key, value in (experiment.get("configuration") or {}).items():
        if isinstance(value, (dict, list)):
            raise ValueError(f"experiment.configuration.{key}: only plain values (numbers, strings) here, "
                             "not values loaded from the environment or elsewhere")
    for where, item in _walk(experiment):
        if "pauses" in item:
            raise ValueError(f"{where}: 'pauses' would sleep in real time; use the action 'wait' "
                             "(simulated seconds) instead")
        if item.get("background"):
            raise ValueError(f"{where}: background activities are not supported here")
        provider = item.get("provider")
        if isinstance(provider, dict):
            if provider.get("type") != "python" or provider.get("module") != MODULE:
                raise ValueError(f"{where}: every provider here is of type 'python' with module {MODULE!r}, "
                                 f"got type {provider.get('type')!r}, module {provider.get('module')!r}")
            func = provider.get("func")
            is_control = "func" not in provider
            allowed = PROBES if item.get("type") == "probe" else ACTIONS
            if not is_control and func not in allowed:
                kind = "a probe" if item.get("type") == "probe" else "an action"
                raise ValueError(f"{where}: {kind} calls one of {', '.join(allowed)}, got {func!r}")
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as error:
        raise ValueError(f"Chaos Toolkit says the experiment is not valid: {error}") from None
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    if not hypothesis.get("probes"):
        raise ValueError("the experiment needs a steady-state-hypothesis with at least one probe")
    for control in experiment.get("controls") or []:
        probes = (control.get("provider") or {}).get("arguments", {}).get("probes")
        if not isinstance(probes, list) or not probes:
            raise ValueError(f"control {control.get('name')!r}: the abort control takes "
                             "'arguments': {'probes': [probes with tolerances]}")
        for probe in probes:
            if not isinstance(probe, dict) or probe.get("type") != "probe" or "tolerance" not in probe:
                raise ValueError(f"control {control.get('name')!r}: each abort criterion is a probe "
                                 "with a tolerance, got {probe!r}")
    return experiment


def outline(experiment) -> str:
    """The experiment in a few lines: its hypothesis, method, rollbacks and abort criteria."""
    def call(activity):
        provider = activity.get("provider") or {}
        args = ", ".join(f"{k}={v!r}" for k, v in (provider.get("arguments") or {}).items())
        return f"{activity.get('name')}: {provider.get('func')}({args})"

    lines = [f"title: {experiment.get('title')}", "steady-state hypothesis:"]
    for probe in (experiment.get("steady-state-hypothesis") or {}).get("probes", []):
        lines.append(f"  {call(probe)}  tolerance {probe.get('tolerance')}")
    lines.append("method:")
    lines += [f"  {call(a)}" for a in experiment.get("method", [])]
    lines.append("rollbacks:")
    lines += [f"  {call(a)}" for a in experiment.get("rollbacks", [])]
    if abort_criteria(experiment):
        lines.append("abort when outside its tolerance:")
        lines += [f"  {call(p)}  tolerance {p.get('tolerance')}" for p in abort_criteria(experiment)]
    return "\n".join(lines)


def without_abort(experiment) -> dict:
    """A copy of ``experiment`` with no controls: no abort criteria."""
    return {**copy.deepcopy(experiment), "controls": []}


def abort_criteria(experiment) -> list:
    """The probes of the experiment's abort control (empty if it has none)."""
    found = []
    for control in experiment.get("controls") or []:
        found += (control.get("provider") or {}).get("arguments", {}).get("probes") or []
    return found


def _evaluate(configuration):
    """A function that checks probes at the session's clock with Chaos Toolkit's own
    ``run_activity`` and ``within_tolerance``: ``(all met, [(name, value, within)])``."""
    from chaoslib.activity import run_activity
    from chaoslib.exceptions import ActivityFailed
    from chaoslib.hypothesis import within_tolerance

    def evaluate(probes):
        rows = []
        for probe in probes:
            try:
                value = run_activity(probe, configuration, {})
                within = bool(within_tolerance(copy.deepcopy(probe["tolerance"]), value, configuration, {}))
            except ActivityFailed as error:
                raise ValueError(f"probe {probe.get('name')!r} failed: {error}") from None
            rows.append((probe["name"], value, within))
        return all(within for _, _, within in rows), rows

    return evaluate


def check_probes(probes, world: World, *, warmup=WARMUP) -> list:
    """``[(name, value, within tolerance)]`` of ``probes`` after ``warmup`` seconds of
    ``world``, with nothing injected."""
    session = S.Session(world, warmup=warmup, evaluate=_evaluate({}))
    providers.activate(session)
    try:
        return session.evaluate(probes)[1]
    finally:
        providers.activate(None)


# -- running ----------------------------------------------------------------------
def _recorder(session):
    from chaoslib.run import RunEventHandler

    class Recorder(RunEventHandler):
        """Records the engine's own checks of the hypothesis, at the session's clock."""

        def hypothesis_before_completed(self, experiment, state, journal):
            session.check_hypothesis("before")

        def hypothesis_after_completed(self, experiment, state, journal):
            session.check_hypothesis("end of method")

    return Recorder()


def run_experiment(experiment, world: World, *, warmup=WARMUP, recovery=RECOVERY, check_every=2.0) -> "Report":
    """Run ``experiment`` (a dict, or a path to a JSON or YAML file) against ``world``
    through Chaos Toolkit's engine; return its :class:`Report`. See the module."""
    from chaoslib.configuration import load_configuration
    from chaoslib.run import Runner
    from chaoslib.types import Strategy

    if isinstance(experiment, (str, Path)):
        experiment = load_experiment(experiment)
    experiment = copy.deepcopy(validate(experiment))
    configuration = load_configuration(experiment.get("configuration", {}))
    hypothesis = experiment["steady-state-hypothesis"]["probes"]
    session = S.Session(world, warmup=warmup, check_every=check_every, evaluate=_evaluate(configuration),
                        hypothesis=hypothesis)
    began = session.now
    providers.activate(session)
    try:
        runner = Runner(Strategy.DEFAULT)
        runner.register_event_handler(_recorder(session))
        # Rollbacks always run, an aborted experiment's too: putting things back is their job.
        settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
        if threading.current_thread() is threading.main_thread():
            journal = runner.run(experiment, settings)
        else:
            # Runner.run installs signal handlers, which Python allows only in the main
            # thread; a panel runs on its own thread, so it calls the engine's loop itself.
            runner.configure(experiment, settings, None)
            journal = runner._run(runner.strategy, runner.schedule, experiment, None, runner.config,
                                  runner.secrets, runner.settings, runner.event_registry)
        ran_method = bool(session.checks) and session.checks[0].met
        if ran_method:  # a fault the rollbacks did not end is still on during the recovery
            session.advance(recovery, checking=False)
            session.check_hypothesis("after")
        result = session.result if session.result.until == session.now else session.run_to(session.now)
    finally:
        providers.activate(None)
    return Report(experiment=experiment, journal=journal, checks=list(session.checks), aborted=session.aborted,
                  faults=list(session.faults), result=result, began=began,
                  abort_probes=abort_criteria(experiment))


@dataclasses.dataclass
class Report:
    """What one run of an experiment found. ``status`` is one of:

    - ``"held"``: every check of the hypothesis (before, during, at the end of the
      method, after recovery) was within its tolerances, and nothing aborted;
    - ``"deviated"``: a check after ``before`` was not (:attr:`deviation` says which
      probe and when); an aborted experiment that deviated first is ``"deviated"``;
    - ``"aborted"``: the abort criteria stopped it while the hypothesis still held;
    - ``"not steady"``: the hypothesis failed *before* any fault: the method never ran.
    """

    experiment: dict
    journal: dict
    checks: list
    aborted: S.Check | None
    faults: list
    result: object
    began: float
    abort_probes: list

    @property
    def deviation(self) -> S.Check | None:
        return next((c for c in self.checks[1:] if not c.met), None)

    @property
    def status(self) -> str:
        if not self.checks or not self.checks[0].met:
            return "not steady"
        if self.deviation is not None:
            return "deviated"
        return "aborted" if self.aborted is not None else "held"

    @property
    def held(self) -> bool:
        return self.status == "held"

    @property
    def deviated(self) -> bool:
        return self.status == "deviated"

    @property
    def failed_activities(self) -> list:
        """``(name, why)`` of each action or probe of the method or rollbacks that raised:
        Chaos Toolkit records such a failure and carries on, so a fault that was
        never injected would otherwise go unnoticed."""
        runs = list(self.journal.get("run") or []) + list(self.journal.get("rollbacks") or [])
        return [(run["activity"].get("name"), "".join(run.get("exception") or []).strip().splitlines()[-1])
                for run in runs if run.get("status") == "failed"]

    @property
    def fault_start(self) -> float | None:
        """When the first fault began (None if the method injected none)."""
        return min((f.start for f in self.faults), default=None)

    def users_failed(self, since=None, until=None) -> int:
        """The users' requests (the calls of ``"client"``) that failed in ``[since, until)``
        (by default: from the start of the experiment to the end of the run)."""
        r = self.result
        since = self.began if since is None else since
        until = r.until if until is None else until
        mask = (r.caller == r.index_of(CLIENT)) & (r.end >= since) & (r.end < until)
        return int(np.count_nonzero(mask & ~np.isin(r.outcome, S._GOOD) & (r.outcome != S._UNFINISHED)))

    def __str__(self):
        title = self.experiment.get("title", "experiment")
        lines = [f"{title}: {self.status.upper()}"]
        during = [c for c in self.checks if c.phase == "during"]
        shown = [c for c in self.checks if c.phase != "during"]
        shown += [c for c in during if not c.met][:1] or during[:1]
        for check in sorted(shown, key=lambda c: (c.time, c.phase != "during")):
            values = ", ".join(f"{name} = {_shown(value)}{'' if within else ' (OUTSIDE tolerance)'}"
                               for name, value, within in check.probes)
            lines.append(f"  {check.time:6.1f} s  {check.phase:<13} {'met' if check.met else 'NOT MET'}: {values}")
            if check.phase == "during":
                unmet = sum(not c.met for c in during)
                lines.append(f"{'':11}(checked {len(during)} times during the method: "
                             f"{'all met' if not unmet else f'{unmet} not met, the first shown'})")
        if self.deviation is not None:
            name, value, _ = next(p for p in self.deviation.probes if not p[2])
            lines.append(f"  deviated at {self.deviation.time:g} s ({self.deviation.phase}): "
                         f"probe {name!r} = {_shown(value)}")
        if self.aborted is not None:
            named = ", ".join(f"{n} = {_shown(v)}" for n, v, within in self.aborted.probes if not within)
            lines.append(f"  ABORTED at {self.aborted.time:g} s by the abort criteria: {named}")
        for name, why in self.failed_activities:
            lines.append(f"  activity {name!r} FAILED: {why}")
        for fault in self.faults:
            end = "the end" if math.isinf(fault.end) else f"{fault.end:g} s"
            lines.append(f"  fault {fault.label} from {fault.start:g} s to {end}")
        lines.append(f"  user requests failed during the run: {self.users_failed():,}")
        return "\n".join(lines)

    __repr__ = __str__


def _shown(value):
    return f"{value:.3g}" if isinstance(value, float) else repr(value)


def assert_holds(report: Report) -> None:
    """Raise ``AssertionError`` with the report unless the hypothesis held (for CI)."""
    assert report.held, f"the steady state did not hold:\n{report}"


# -- building experiments in code (the panel) ------------------------------------
def probe(name, func, tolerance, **arguments) -> dict:
    """A probe of :mod:`chaos_providers` as Chaos Toolkit writes it."""
    return {"type": "probe", "name": name, "tolerance": tolerance,
            "provider": {"type": "python", "module": MODULE, "func": func, "arguments": arguments}}


def action(name, func, **arguments) -> dict:
    """An action of :mod:`chaos_providers` as Chaos Toolkit writes it."""
    return {"type": "action", "name": name,
            "provider": {"type": "python", "module": MODULE, "func": func, "arguments": arguments}}


def abort_control(*probes) -> dict:
    """The abort control with ``probes`` as its criteria."""
    return {"name": "abort criteria", "provider": {"type": "python", "module": MODULE,
                                                    "arguments": {"probes": list(probes)}}}


#: The panel's faults: (label, action function, its arguments for a size from 1 to 10).
FAULT_CHOICES = {
    "latency": ("B answers slowly", "inject_latency", lambda size: {"service": "B", "seconds": 0.5 * size}),
    "errors": ("B fails calls", "inject_errors", lambda size: {"service": "B", "rate": 0.1 * size}),
    "outage": ("B hangs (outage)", "take_down", lambda size: {"service": "B", "mode": "hang"}),
    "capacity": ("B loses workers", "remove_capacity",
                 lambda size: {"service": "B", "workers": max(1, round(2.5 * size))}),
    "monkey": ("Chaos Monkey on B (dead instances hang)", "chaos_monkey",
               lambda size: {"service": "B", "every": 11.0 - size, "down_for": 3.0, "seed": 1, "mode": "hang"}),
}


def panel_experiment(fault="latency", size=10, abort_limit=0.2, duration=30.0) -> dict:
    """The experiment the panel runs: the hypothesis of ``b-answers-slowly.json``,
    one fault of ``size`` (1 to 10) for ``duration`` seconds, and an abort when
    more than ``abort_limit`` of the users' requests fail (1: never)."""
    if fault not in FAULT_CHOICES:
        raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULT_CHOICES)}")
    label, func, arguments = FAULT_CHOICES[fault]
    base = lesson_experiment()
    args = arguments(size)
    if func == "chaos_monkey":
        args["duration"] = duration
    method = [action(label, func, **args), action("let it act", "wait", seconds=duration)]
    experiment = {**base, "title": f"{label} (size {size})", "method": method}
    experiment["controls"] = [abort_control(probe("users failing", "error_rate", [0, abort_limit],
                                                  service="A", caller=CLIENT, window=5))] if abort_limit < 1 else []
    return experiment


# -- figures ------------------------------------------------------------------------
def tolerance_bounds(tolerance):
    """(low, high) of a numeric tolerance (``[low, high]`` or a ``range``), else None."""
    if isinstance(tolerance, list) and len(tolerance) == 2 and all(isinstance(x, (int, float)) for x in tolerance):
        return float(tolerance[0]), float(tolerance[1])
    if isinstance(tolerance, dict) and tolerance.get("type") == "range":
        low, high = tolerance["range"]
        return float(low), float(high)
    return None


def probe_series(report: Report, spec: dict, every=0.5):
    """``(times, values)`` of a probe over the whole run (the same measure its provider takes)."""
    args = spec["provider"].get("arguments", {})
    return S.series(report.result, spec["provider"]["func"], args["service"], window=args.get("window", 5.0),
                    caller=args.get("caller"), every=every)


class ReportFigure:
    """One panel per probe of the hypothesis (and of the abort criteria): the probe
    over time, its tolerance dashed, the faults shaded, each check a dot (filled:
    met; a cross: not met), the abort a vertical line. :meth:`update` moves the data."""

    def __init__(self, rows=3, size=(9, 6.4), dpi=80):
        from matplotlib.figure import Figure
        from ..figures.run import COLOURS

        self.fig = Figure(figsize=size, dpi=dpi)
        self.fig.subplots_adjust(left=0.1, right=0.97, top=0.93, bottom=0.08, hspace=0.35)
        self.axes = list(np.atleast_1d(self.fig.subplots(rows, 1, sharex=True)))
        self.lines, self.bounds, self.met, self.unmet = [], [], [], []
        for ax in self.axes:
            self.lines.append(ax.plot([], [], color=COLOURS[0], lw=1.8)[0])
            self.bounds.append([ax.plot([], [], color="#2ca02c", ls="--", lw=1.2)[0] for _ in range(2)])
            self.met.append(ax.plot([], [], "o", color="#2ca02c", ms=6)[0])
            self.unmet.append(ax.plot([], [], "X", color="#d62728", ms=9)[0])
            ax.grid(True, alpha=0.3)
        self.axes[-1].set_xlabel("simulated time (s)   (shaded: faults;  dots: checks met;  crosses: not met)")
        self._artists = []

    def update(self, report: Report):
        from ..figures.axes import fit_y, shade_faults

        for artist in self._artists:
            artist.remove()
        self._artists = []
        specs = [("hypothesis", p) for p in report.experiment["steady-state-hypothesis"]["probes"]]
        specs += [("abort when outside", p) for p in report.abort_probes]
        until = report.result.until
        for i, ax in enumerate(self.axes):
            shown = i < len(specs)
            ax.set_visible(shown)
            if not shown:
                for line in [self.lines[i], *self.bounds[i], self.met[i], self.unmet[i]]:
                    line.set_data([], [])
                continue
            kind, spec = specs[i]
            t, values = probe_series(report, spec)
            self.lines[i].set_data(t, values)
            bounds = tolerance_bounds(spec.get("tolerance"))
            for line, bound in zip(self.bounds[i], bounds or (None, None)):
                line.set_data(([0, until], [bound, bound]) if bound is not None else ([], []))
            checks = report.checks if kind == "hypothesis" else ([report.aborted] if report.aborted else [])
            points = [(c.time, value, within) for c in checks for name, value, within in c.probes
                      if name == spec["name"] and isinstance(value, (int, float))]
            self.met[i].set_data([p[0] for p in points if p[2]], [p[1] for p in points if p[2]])
            self.unmet[i].set_data([p[0] for p in points if not p[2]], [p[1] for p in points if not p[2]])
            ax.set_title(f"{kind}: {spec['name']}   (tolerance {_tolerance_text(spec.get('tolerance'))})",
                         fontsize=9, loc="left")
            ax.set_xlim(0, until + 1.0)
            fit_y(ax)
            self._artists += shade_faults([ax], report.faults, until, label_ax=ax if i == 0 else None)
            if report.aborted is not None:
                # A line collection, not a Line2D: its y (0 to 1 of the axes) is not data to fit.
                self._artists.append(ax.vlines(report.aborted.time, 0, 1, transform=ax.get_xaxis_transform(),
                                               color="#d62728", lw=1.5))
        verdict = report.status.upper()
        if report.deviation is not None:
            verdict += f" at {report.deviation.time:g} s"
        if report.aborted is not None:
            verdict += f"; aborted at {report.aborted.time:g} s (red line)"
        self.fig.suptitle(f"{report.experiment.get('title', '')}: {verdict}", fontsize=11)
        return self.fig

    def png(self) -> bytes:
        from ..figures.run import figure_png

        return figure_png(self.fig)


def _tolerance_text(tolerance):
    bounds = tolerance_bounds(tolerance)
    return f"{bounds[0]:g} to {bounds[1]:g}" if bounds else json.dumps(tolerance)[:40]


def plot_report(report: Report):
    """The report's figure: each probe against its tolerance, faults shaded."""
    rows = len(report.experiment["steady-state-hypothesis"]["probes"]) + len(report.abort_probes)
    return ReportFigure(rows=max(1, rows), size=(9, 1.9 * max(1, rows) + 1.0)).update(report)


# -- the panel ------------------------------------------------------------------------
class ChaosPanel(Panel):
    """Pick the fault, its size, the abort limit and the world (weak or fixed); the
    experiment runs through Chaos Toolkit and the probe plot redraws."""

    def __init__(self):
        import ipywidgets as widgets
        self.controls = {
            "fault": widgets.Dropdown(options=[(v[0], k) for k, v in FAULT_CHOICES.items()], value="latency",
                                      description="fault"),
            "size": slider("fault size (1 to 10)", value=10, min=1, max=10),
            "abort": slider("abort when users failing over (%)", value=20, min=5, max=100, step=5),
            "world": widgets.ToggleButtons(options=[("weak world", "weak"), ("fixed world", "fixed")],
                                           value="weak"),
        }
        self.figure = ReportFigure(rows=3)
        super().__init__()

    def simulate(self, settings):
        experiment = panel_experiment(settings["fault"], settings["size"], settings["abort"] / 100)
        world = weak_world() if settings["world"] == "weak" else fixed_world()
        return run_experiment(experiment, world)

    def describe(self, report, seconds):
        first = report.experiment["method"][0]["provider"]
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in first["arguments"].items())
        return (f"<b>{report.status}</b>: {first['func']}({args}); {report.users_failed():,} user requests "
                f"failed (run through Chaos Toolkit in {seconds * 1000:.0f} ms)")


def panel() -> ChaosPanel:
    """The lesson's panel (see :class:`ChaosPanel`)."""
    return ChaosPanel()
