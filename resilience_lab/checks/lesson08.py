"""Graded checks of exercise 8, the capstone: an error budget, burn-rate pages, and a plan that keeps the SLO.

The student writes ``error_budget(slo, days)``, ``page_minutes(bad, slo)`` and
``protect(plan)``.

``error_budget`` and ``page_minutes`` are called with plain values, one answer at
a time, and compared with the reference (:mod:`resilience_lab.lessons.error_budget`).

``protect`` takes part in no simulation. :func:`plan_data` (a measurement, so it
runs beside the student's code) calls it on a fresh
:class:`~resilience_lab.lessons.capstone.Plan` and returns the plan as plain data.
The checks rebuild the plan from that data in the grader's own process (every
value is checked again there) and simulate the months there too: the seeds of
the months a student never sees (:func:`check_unseen_months`, for an
instructor's ``--extra-checks`` file) never reach a process the student's code
runs in.

The course's patterns are this exercise's tools, not an answer handed in:
:data:`TOOLS` tells the grader not to flag a submission for importing or
calling them.
"""

from __future__ import annotations

import math

from ..lessons import capstone as lesson
from ..lessons import error_budget as eb
from . import CheckFailed, expect_close, graded, measured, whole_number

#: Package modules the student is meant to use here: no flag for importing or calling them.
TOOLS = ("resilience_lab.patterns",)


# -- l8-budget ------------------------------------------------------------------------
BUDGET_CASES = [(0.999, 30), (0.99, 28), (0.9995, 7), (0.95, 1), (0.999, 90)]


@graded("l8-budget", points=1,
        hint="The budget is the share of the time that may be bad, 1 - slo, of all the minutes of `days` days "
             "(days * 24 * 60): 43.2 minutes for 99.9% over 30 days.")
def check_budget(error_budget):
    for slo, days in BUDGET_CASES:
        expect_close(f"error_budget({slo:g}, {days})", error_budget(slo, days), eb.budget_minutes(slo, days),
                     rel=1e-6)


# -- l8-alerts ------------------------------------------------------------------------
def _quiet(minutes):
    return [0.0] * minutes


def _with(bad, start, minutes, share):
    bad = list(bad)
    bad[start:start + minutes] = [share] * minutes
    return bad


def _alternating(minutes, share):
    return [share if m % 2 else 0.0 for m in range(minutes)]


def timelines():
    """(what, bad per minute, slo) of every timeline the pages are checked on; each
    answer can be worked out from the rule (the last one is the example month)."""
    day = eb.MINUTES_PER_DAY
    cases = [
        ("a quiet day", _quiet(day), 0.999),
        ("a 30-minute outage from minute 600 of a quiet day", _with(_quiet(day), 600, 30, 1.0), 0.999),
        ("1% of requests bad for 8 hours from minute 360", _with(_quiet(day), 360, 480, 0.01), 0.999),
        ("0.3% bad for two days (burn rate 3)", [0.003] * (2 * day), 0.999),
        ("a 2-minute blip of 20% errors at minute 700", _with(_quiet(day), 700, 2, 0.2), 0.999),
        ("a 4-minute blip of 50% errors at minute 100", _with(_quiet(day), 100, 4, 0.5), 0.999),
        ("burn rate 20 from the very first minute, for 2 hours", _with(_quiet(day), 0, 120, 0.02), 0.999),
        ("every other minute 10% bad, for 3 hours", _alternating(180, 0.1) + _quiet(day - 180), 0.999),
        ("an SLO of 99%: 30% errors for 20 minutes at minute 900", _with(_quiet(day), 900, 20, 0.3), 0.99),
    ]
    example = lesson.month(None, lesson.chaos_month(lesson.EXAMPLE_SEED))
    cases.append(("the example month without protection (43,200 minutes)", [float(x) for x in example.bad],
                  lesson.SLO))
    return cases


def _burn_table(bad, slo) -> dict:
    """Every page alert's burn rates at every minute: ``{(alert, window): array}``."""
    return {(a, w): eb.burn_rates(bad, slo, w) for a in eb.PAGES for w in (a.long, a.short)}


def _ambiguous(table, minute) -> bool:
    """True when a burn rate at ``minute`` is a threshold, give or take float rounding:
    either answer is right there."""
    return any(math.isclose(burns[minute], alert.burn, rel_tol=1e-6) for (alert, _), burns in table.items())


def _explain(table, minute, expected) -> str:
    parts = []
    for alert in eb.PAGES:
        long, short = table[(alert, alert.long)][minute], table[(alert, alert.short)][minute]
        fires = long >= alert.burn and short >= alert.burn
        parts.append(f"{alert.burn:g}x: {long:.3g}x over {alert.long} min and {short:.3g}x over {alert.short} min "
                     f"({'fires' if fires else 'does not fire'})")
    return f"minute {minute} should {'' if expected else 'not '}page: " + "; ".join(parts)


def _minutes(what, answer) -> set[int]:
    if isinstance(answer, (str, bytes, dict)) or not isinstance(answer, (list, tuple, set, frozenset)):
        raise CheckFailed(f"{what} returned {answer!r}, expected a list of minutes (whole numbers)")
    return {whole_number(what, m) for m in answer}


@graded("l8-alerts", points=3,
        hint="For each minute m, burn(w) = mean(bad[m-w+1 .. m]) / (1 - slo), over the minutes since the start "
             "when there are fewer than w. Page when burn(60) and burn(5) are both >= 14.4, or burn(360) and "
             "burn(30) are both >= 6.")
def check_alerts(page_minutes):
    for what, bad, slo in timelines():
        call = f"page_minutes(bad, {slo:g}) for {what}"
        got = _minutes(call, page_minutes(bad, slo))
        outside = sorted(m for m in got if not 0 <= m < len(bad))
        if outside:
            raise CheckFailed(f"{call} returned minute {outside[0]}, but the timeline has minutes 0 to {len(bad) - 1}")
        expected = set(eb.page_minutes(bad, slo))
        table = _burn_table(bad, slo)
        wrong = sorted(m for m in got ^ expected if not _ambiguous(table, m))
        if wrong:
            first = wrong[0]
            raise CheckFailed(f"{call}: {len(wrong)} minute(s) wrong, the first: "
                              + _explain(table, first, first in expected))


# -- the plan -------------------------------------------------------------------------------
@measured
def plan_data(protect):
    """``protect(plan)`` on a new :class:`~resilience_lab.lessons.capstone.Plan`: ``{"plan": its data}``,
    or ``{"raised": what went wrong}``."""
    plan = lesson.Plan()
    try:
        protect(plan)
    except NotImplementedError:
        raise
    except Exception as error:  # the student's code raised (a wrong route, a pattern twice...): say so
        return {"raised": f"protect(plan) raised {type(error).__name__}: {error}"}
    try:
        return {"plan": plan.as_data()}
    except Exception as error:
        return {"raised": f"the plan cannot be read: {type(error).__name__}: {error}"}


def student_plan(protect) -> lesson.Plan:
    """The plan ``protect`` records, rebuilt here from its data; a failed check if it cannot be."""
    got = plan_data(protect)
    if not isinstance(got, dict) or ("plan" not in got and "raised" not in got):
        raise CheckFailed(f"recording the plan returned {got!r}")
    if "raised" in got:
        raise CheckFailed(str(got["raised"]))
    try:
        return lesson.Plan.from_data(got["plan"])
    except (ValueError, TypeError, KeyError) as error:
        raise CheckFailed(f"the plan cannot be used: {error}") from None


def _within_costs(plan):
    """A failed check unless ``plan`` keeps within the costs; the runs of :func:`~resilience_lab.lessons.capstone.costs`
    one at a time, stopping at the first over the limit (a plan that multiplies calls makes slow runs)."""
    if plan.extra_workers > lesson.COSTS["workers"]:
        raise CheckFailed(f"the plan adds {plan.extra_workers} workers (each instance counts); the costs allow "
                          f"{lesson.COSTS['workers']}")
    for incident in (None, *lesson.STRESS):
        effect = lesson.effect(plan, incident)
        if effect.calls_per_page > lesson.COSTS["calls per page"] + 1e-9:
            when = "in a healthy run" if incident is None else f"with {incident.label}"
            raise CheckFailed(f"{when}, {effect.busiest} received {effect.calls_per_page:.2f} calls per page "
                              f"(retries included); the costs allow {lesson.COSTS['calls per page']:g}")


def _worst(month, count=3) -> str:
    rows = sorted(month.incidents, key=lambda i: month.effects[i.what].bad * i.minutes, reverse=True)[:count]
    return "; ".join(f"{i.label} (day {i.start / 1440:.1f}, {i.minutes} min): {month.effects[i.what].bad:.1%} of "
                     f"pages bad, {month.effects[i.what].bad * i.minutes / lesson.BUDGET:.0%} of the budget"
                     for i in rows if month.effects[i.what].bad > 0)


def _judge_month(plan, incidents, name) -> lesson.Month:
    month = lesson.month(plan, incidents)
    load, where = month.calls_per_page
    if load > lesson.COSTS["calls per page"] + 1e-9:
        raise CheckFailed(f"in {name}, {where} received {load:.2f} calls per page during an incident (retries "
                          f"included); the costs allow {lesson.COSTS['calls per page']:g}")
    if not month.slo_met:
        healthy = (f"; even with no incident {month.healthy.bad:.2%} of pages were bad (too tight a timeout?)"
                   if month.healthy.bad > 0 else "")
        raise CheckFailed(f"in {name} {month.good:.3%} of pages were good, under the SLO of {lesson.SLO:.1%}: "
                          f"{month.spent:.0%} of the error budget spent{healthy}. Most of it: {_worst(month)}")
    return month


@graded("l8-costs", points=2,
        hint="At most 12 workers added in all (each instance counts), and no service may get more than 1.5 calls "
             "per page even while a backend is down or failing: give each retry a RetryBudget, and do not "
             "retry at two layers.")
def check_costs(protect):
    _within_costs(student_plan(protect))


@graded("l8-example-month", points=3,
        hint="Read the table of the example month: which incidents spend the budget? An optional feature needs a "
             "timeout and a fallback; a critical call a retry with a timeout per attempt; lost capacity needs "
             "workers. Then try other months: the grader draws months you do not see.")
def check_example_month(protect):
    plan = student_plan(protect)
    _within_costs(plan)
    _judge_month(plan, lesson.chaos_month(lesson.EXAMPLE_SEED), "the example month")


def check_unseen_months(protect, seeds):
    """For an instructor's hidden check: the plan keeps the SLO, within the costs, in
    every month drawn from ``seeds`` (keep them to yourself). Raises CheckFailed."""
    plan = student_plan(protect)
    _within_costs(plan)
    missed = []
    for number, seed in enumerate(seeds, start=1):
        try:
            _judge_month(plan, lesson.chaos_month(seed), f"unseen month {number}")
        except CheckFailed as failure:
            missed.append(str(failure))
    if missed:
        raise CheckFailed(f"the SLO was missed in {len(missed)} of {len(seeds)} unseen months; " + missed[0])


__all__ = ["TOOLS", "check_alerts", "check_budget", "check_costs", "check_example_month", "check_unseen_months",
           "plan_data", "student_plan", "timelines"]
