"""Graded checks of exercise 7: a chaos experiment that finds the shop's weakness, and the fix.

The student writes ``experiment()``, which returns a Chaos Toolkit experiment (a dict) for the
shop of :func:`~resilience_lab.lessons.chaos.shop_world`, and ``protect(world)``,
which puts resilience patterns on the shop's calls.

The experiment is plain data: it comes to the grader as a dict and runs here,
through Chaos Toolkit's engine, against the grader's own worlds. Only this
package's providers may appear in it (:func:`~resilience_lab.lessons.chaos.validate`
refuses every other module, ``process`` and ``http`` providers, secrets and
configuration loaded from elsewhere), so running it runs no code of the
student's. ``protect`` is code: the shop it protects is simulated beside it, in a
measurement (:func:`fix_reports`), which returns each report as plain data.

- ``l7-valid``: Chaos Toolkit accepts the experiment; it has a hypothesis with
  numeric tolerances, a method that injects a fault and lets time pass
  (:data:`MIN_WAIT` to :data:`MAX_SECONDS` simulated seconds), and a rollback.
- ``l7-exposes``: it deviates on the weak shop and holds on the fixed one.
- ``l7-not-vacuous``: each probe of its hypothesis leaves its tolerance in at
  least one of :data:`BROKEN` shops, where every call is slow, fails, or hangs
  from the start. A tolerance that survives all three can never fail.
- ``l7-abort``: its abort criteria stop it on the weak shop, and early: at most
  half as many user requests fail as in the same experiment without them; and
  they do not stop it on the fixed shop.
- ``l7-fix``: ``protect`` makes the shop hold under the grader's own experiments
  (reviews slow, reviews hanging), and changes nothing while nothing is broken.
"""

from __future__ import annotations

import copy
import json

from ..lessons import chaos
from . import CheckFailed, graded, is_number, measured

#: The shortest and longest an experiment may let time pass, in simulated seconds.
MIN_WAIT, MAX_SECONDS = 10.0, 120.0
#: The abort criteria must at least halve the user requests that fail.
ABORT_SHARE = 0.5


def _experiment(answer):
    """The student's experiment: ``experiment()`` returns it as a dict."""
    got = answer() if callable(answer) else answer
    if not isinstance(got, dict):
        raise CheckFailed(f"experiment() returned {type(got).__name__}, expected a dict (the JSON of an experiment)")
    return got


def _check_valid(experiment):
    try:
        chaos.validate(experiment)
    except ValueError as error:
        raise CheckFailed(str(error)) from None
    for probe in experiment["steady-state-hypothesis"]["probes"]:
        if chaos.tolerance_bounds(probe.get("tolerance")) is None:
            raise CheckFailed(f"probe {probe.get('name')!r}: give it a numeric tolerance, [low, high] or "
                              f"{{'type': 'range', 'range': [low, high]}}, got {probe.get('tolerance')!r}")
    providers = [a.get("provider") or {} for a in experiment["method"]]
    funcs = [p.get("func") for p in providers]
    waits = [(p.get("arguments") or {}).get("seconds") for p in providers if p.get("func") == "wait"]
    if not all(is_number(w) for w in waits):
        raise CheckFailed(f"each 'wait' takes a number of seconds, got {waits}")
    waited = sum(waits)
    if not set(funcs) & {"inject_latency", "inject_errors", "take_down", "remove_capacity", "chaos_monkey"}:
        raise CheckFailed(f"the method's actions are {funcs}: none of them injects a fault")
    if not MIN_WAIT <= waited <= MAX_SECONDS:
        raise CheckFailed(f"the method lets {waited:g} simulated seconds pass (its 'wait' actions); let the fault "
                          f"act for {MIN_WAIT:g} to {MAX_SECONDS:g} seconds")
    rollbacks = [(a.get("provider") or {}).get("func") for a in experiment.get("rollbacks") or []]
    if "end_faults" not in rollbacks:
        raise CheckFailed("the experiment has no rollback that ends the faults (end_faults): an experiment "
                          "must put the system back as it found it")


def _report(experiment, world):
    return chaos.run_experiment(copy.deepcopy(experiment), world)


def _lines(report):
    return "\n".join("      " + line for line in str(report).splitlines())


@graded("l7-valid", points=1,
        hint="Start from the lesson's b-answers-slowly.json: a steady-state-hypothesis whose probes have "
             "[low, high] tolerances, a method with a fault and a 'wait', and the rollback 'end_faults', every "
             "provider from resilience_lab.lessons.chaos_providers.")
def check_valid(experiment):
    experiment = _experiment(experiment)
    _check_valid(experiment)


@graded("l7-exposes", points=3,
        hint="The weakness is a timeout far longer than reviews ever needs: which fault makes a call slow "
             "without making it fail? Measure what the users see (web, caller 'client') with tolerances the "
             "healthy shop meets.")
def check_exposes(experiment):
    experiment = _experiment(experiment)
    _check_valid(experiment)
    weak = _report(experiment, chaos.shop_world())
    if weak.status == "not steady":
        raise CheckFailed("the hypothesis failed before any fault was injected: the healthy shop does not meet "
                          f"your tolerances\n{_lines(weak)}")
    if not weak.deviated:
        raise CheckFailed(f"on the weak shop your experiment ended '{weak.status}': it does not expose the "
                          f"weakness\n{_lines(weak)}")
    fixed = _report(experiment, chaos.shop_world_fixed())
    if not fixed.held:
        raise CheckFailed(f"on the fixed shop your experiment ended '{fixed.status}', not 'held': it blames a "
                          f"shop that copes with the fault\n{_lines(fixed)}")


def _broken_worlds():
    """Shops broken from the start: every service slow, failing, or hanging."""
    out = {}
    for label, fault in (("every call 3 s slower", lambda w, s: w.inject_latency(s, 3.0)),
                         ("every call failing half the time", lambda w, s: w.inject_errors(s, 0.5)),
                         ("every service down, hanging", lambda w, s: w.inject_outage(s, mode="hang"))):
        world = chaos.shop_world()
        for service in list(world.services):
            fault(world, service)
        out[label] = world
    return out


#: The labels of the broken shops of ``l7-not-vacuous``.
BROKEN = tuple(_broken_worlds())


@graded("l7-not-vacuous", points=2,
        hint="A tolerance must be able to fail: one that holds even when every call is slow, fails or hangs "
             "tells you nothing. Bound each probe just above what the healthy shop shows.")
def check_not_vacuous(experiment):
    experiment = _experiment(experiment)
    _check_valid(experiment)
    probes = experiment["steady-state-hypothesis"]["probes"]
    failed = {probe["name"]: [] for probe in probes}
    for label, world in _broken_worlds().items():
        for name, value, within in chaos.check_probes(probes, world):
            if not within:
                failed[name].append(label)
    vacuous = [name for name, labels in failed.items() if not labels]
    if vacuous:
        raise CheckFailed(f"probe {vacuous[0]!r} stayed within its tolerance in every broken shop "
                          f"({', '.join(BROKEN)}): a tolerance that can never fail")


@graded("l7-abort", points=2,
        hint="Add the abort control of chaos_providers with a probe of what users suffer (their error rate, "
             "say above 20% over 5 s): well past the hypothesis's tolerance, never reached by the fixed shop.")
def check_abort(experiment):
    experiment = _experiment(experiment)
    _check_valid(experiment)
    if not chaos.abort_criteria(experiment):
        raise CheckFailed("the experiment has no abort criteria: add a control of module "
                          f"{chaos.MODULE!r} with 'arguments': {{'probes': [...]}}")
    weak = _report(experiment, chaos.shop_world())
    if weak.aborted is None:
        raise CheckFailed(f"on the weak shop the abort criteria never stopped the experiment\n{_lines(weak)}")
    runaway = copy.deepcopy(experiment)
    runaway["controls"] = []
    unchecked = _report(runaway, chaos.shop_world())
    limit = ABORT_SHARE * unchecked.users_failed()
    if weak.users_failed() > limit:
        raise CheckFailed(f"the abort came at {weak.aborted.time:g} s, after {weak.users_failed():,} user requests "
                          f"had failed; without abort criteria {unchecked.users_failed():,} fail. Abort early "
                          f"enough to save at least half of them")
    fixed = _report(experiment, chaos.shop_world_fixed())
    if fixed.aborted is not None:
        raise CheckFailed(f"your abort criteria stopped the experiment on the fixed shop too, where users barely "
                          f"notice the fault\n{_lines(fixed)}")


# -- l7-fix ---------------------------------------------------------------------------
def grader_experiments():
    """The grader's experiments for ``l7-fix``: reviews 3 s slow, and reviews hanging."""
    text = json.dumps(chaos.lesson_experiment()).replace('"A"', '"web"').replace('"B"', '"reviews"')
    slow = json.loads(text)
    slow["title"] = "the shop copes when reviews answer in 3 s"
    slow["method"][0] = chaos.action("reviews answer in 3 s", "inject_latency", service="reviews", seconds=3.0)
    hang = copy.deepcopy(slow)
    hang["title"] = "the shop copes when reviews hang"
    hang["method"][0] = chaos.action("reviews hang", "take_down", service="reviews", mode="hang")
    quiet = copy.deepcopy(slow)
    quiet["title"] = "the shop with nothing broken"
    quiet["method"] = [chaos.action("nothing breaks", "wait", seconds=30)]
    return [quiet, slow, hang]


@measured
def fix_reports(protect):
    """Each grader experiment on ``protect(shop_world())``: (title, status, report text)."""
    out = []
    for experiment in grader_experiments():
        world = chaos.shop_world()
        try:
            protect(world)
        except NotImplementedError:
            raise
        except Exception as error:
            return {"raised": f"protect(world) raised {type(error).__name__}: {error}"}
        try:
            report = chaos.run_experiment(experiment, world)
        except Exception as error:
            return {"raised": f"the shop you protected could not run: {type(error).__name__}: {error}"}
        out.append([experiment["title"], report.status, str(report)])
    return out


@graded("l7-fix", points=2,
        hint="Replace the 10 s timeout inside web's fallback on reviews with one close to a few times reviews' "
             "p99 (the fallback outermost, the timeout inside it): world.protect('web', 'reviews', Fallback(), "
             "Timeout(...)).")
def check_fix(protect):
    got = fix_reports(protect)
    if isinstance(got, dict):
        raise CheckFailed(got["raised"])
    for title, status, text in got:
        if status != "held":
            shown = "\n".join("      " + line for line in text.splitlines())
            raise CheckFailed(f"'{title}' ended '{status}' on the shop you protected\n{shown}")
