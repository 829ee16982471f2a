"""Lesson 8, the capstone: a shop under an error budget, a month of chaos, and the patterns combined.

**The shop** (:mod:`.capstone_shop`, its names importable from here too). A
product page (``frontend``) calls four services at once (a fan-out):
``catalog`` (which calls ``db``) and ``pricing`` are on the critical path;
``recommendations`` and ``reviews`` are optional features, and a page without
them is still a good page, *if* the frontend falls back instead of failing.

**The SLO.** 99.9% of page requests are good over 30 days: a good page answers
``ok`` within :data:`GOOD_WITHIN` seconds. The error budget is 43.2 minutes of
full outage a month (:mod:`.error_budget`).

**A month of chaos.** :func:`chaos_month` draws a month's incidents from a
seed: dead instances, hung or failing services, slow databases, lost capacity,
and releases (Tuesdays and Thursdays) that sometimes ship a bug. Simulating
30 days of traffic would take hours, so :func:`month` simulates each *kind* of
incident once, for :data:`FAULT_SECONDS` seconds of its fault after a healthy
start, measures the share of pages that were bad while it lasted, and applies
that share to each minute the incident lasts in the month. Every other minute
gets the share measured in a healthy run. Once the budget is spent, releases
stop: the release freeze.

**Protection.** A :class:`~.capstone_shop.Plan` of the course's patterns, within
the costs of :data:`COSTS` (:func:`costs` checks them). :func:`compare_orders`
measures what a wrong order of the patterns does, beside the right one.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass

import numpy as np

from ..outcomes import Outcome
from ..patterns.circuit_breaker import CircuitBreaker
from ..patterns.fallback import Fallback
from ..patterns.retry import Backoff, Retry
from ..patterns.timeout import Timeout
from ..world import CLIENT
from ..world import faults as F
from . import error_budget as eb
# The shop and its plans, which a lesson reaches from here too (lesson.Plan, lesson.OPTIONAL).
from .capstone_shop import (COSTS, CRITICAL, GOOD_WITHIN, MAX_ATTEMPTS, OPTIONAL, PAGE_RATE, PATTERNS, ROUTES,
                            SERVICES, Plan, plan_of, shop_world)

SLO = 0.999
DAYS = 30
MINUTES = DAYS * eb.MINUTES_PER_DAY

__all__ = [
    # the shop and its plans (from capstone_shop)
    "COSTS", "CRITICAL", "GOOD_WITHIN", "MAX_ATTEMPTS", "OPTIONAL", "PAGE_RATE", "PATTERNS", "ROUTES", "SERVICES",
    "Plan", "plan_of", "shop_world",
    # the month
    "BUDGET", "CHAOS", "DAYS", "EXAMPLE_SEED", "Effect", "Incident", "MINUTES", "Month", "SLO", "STRESS",
    "chaos_month", "compare_orders", "costs", "effect", "month", "order_table", "run_incident",
]


# -- incidents --------------------------------------------------------------------------
KINDS = {
    "down": "down (calls fail at once)",
    "hang": "hangs (no answer, ever)",
    "slow": "slower by {size:g} s",
    "errors": "fails {size:.0%} of calls",
    "kill": "one instance dies (its calls fail)",
    "kill-hang": "one instance hangs",
    "capacity": "loses {size:g} workers per instance",
}


@dataclass(frozen=True)
class Incident:
    """``service`` misbehaves (``kind`` and ``size``, see :data:`KINDS`) for ``minutes``
    minutes from minute ``start`` of the month; ``cause`` is ``"release"`` for a bad release."""

    start: int
    minutes: int
    service: str
    kind: str
    size: float = 0.0
    cause: str = "infrastructure"

    def __post_init__(self):
        if self.service not in SERVICES:
            raise ValueError(f"unknown service {self.service!r}; the shop's services: {', '.join(SERVICES)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of incident {self.kind!r}; kinds: {', '.join(KINDS)}")

    @property
    def what(self) -> tuple:
        """What is simulated: the same for two incidents of the same kind and size."""
        return (self.service, self.kind, self.size)

    @property
    def end(self) -> int:
        return self.start + self.minutes

    @property
    def label(self) -> str:
        text = f"{self.service} {KINDS[self.kind].format(size=self.size)}"
        return f"bad release: {text}" if self.cause == "release" else text

    def fault(self, start: float, end: float) -> F.Fault:
        """The world's fault for this incident, on during ``[start, end)`` simulated seconds."""
        window = {"service": self.service, "start": start, "end": end}
        if self.kind in ("down", "hang"):
            return F.Outage(mode=F.FAIL if self.kind == "down" else F.HANG, **window)
        if self.kind == "slow":
            return F.AddedLatency(seconds=self.size, **window)
        if self.kind == "errors":
            return F.ErrorRate(rate=self.size, **window)
        if self.kind == "capacity":
            return F.LostCapacity(workers=int(self.size), **window)
        return F.KilledInstance(instance=0, mode=F.FAIL if self.kind == "kill" else F.HANG, **window)


#: The infrastructure incidents a month draws from: (weight, service, kind, sizes, minutes).
CHAOS = (
    (3, "recommendations", "hang", (0.0,), (15, 30, 60)),
    (2, "recommendations", "slow", (1.0, 3.0), (20, 45, 90)),
    (2, "recommendations", "errors", (0.5, 1.0), (10, 30)),
    (3, "reviews", "down", (0.0,), (15, 30, 60)),
    (2, "reviews", "slow", (0.8, 2.0), (20, 45)),
    (2, "catalog", "kill", (0.0,), (15, 30)),
    (3, "catalog", "kill-hang", (0.0,), (15, 30, 45)),
    (2, "catalog", "capacity", (3.0,), (30, 60)),
    (2, "pricing", "errors", (0.2, 0.4), (10, 20, 40)),
    (2, "pricing", "kill", (0.0,), (15, 30)),
    (2, "pricing", "kill-hang", (0.0,), (15, 30, 45)),
    (1, "db", "slow", (0.05,), (30, 60)),
    (1, "db", "down", (0.0,), (2, 4)),
)
#: Releases go out at 14:00 on these days of the week (day 0 of the month is a Monday).
RELEASE_DAYS = (1, 3)
RELEASE_MINUTE = 14 * 60
#: The chance that a release ships a bug, the share of calls it fails, and how long until it is rolled back.
BAD_RELEASE = (0.3, (0.2, 0.4), (10, 20, 30))
RELEASED = ("catalog", "pricing", "recommendations", "reviews")
#: The month shown in the lesson and the exercise. The grader draws others from seeds it keeps to itself.
EXAMPLE_SEED = 2022


def chaos_month(seed) -> list[Incident]:
    """A month of incidents drawn from ``seed`` (any int or str), in order of start.

    7 to 10 infrastructure incidents drawn from :data:`CHAOS` (by weight, at
    uniformly random times), and each release (:data:`RELEASE_DAYS`) that ships
    a bug (:data:`BAD_RELEASE`). An incident that would overlap an earlier one
    starts when that one ends (and is dropped if that pushes it past the month's end).
    """
    rng = random.Random(f"capstone/month/{seed}")
    weights = [entry[0] for entry in CHAOS]
    drawn = []
    for _ in range(rng.randint(7, 10)):
        _, service, kind, sizes, durations = rng.choices(CHAOS, weights)[0]
        drawn.append(Incident(rng.randrange(MINUTES - 120), rng.choice(durations), service, kind, rng.choice(sizes)))
    chance, rates, durations = BAD_RELEASE
    for day in range(DAYS):
        if day % 7 in RELEASE_DAYS and rng.random() < chance:
            drawn.append(Incident(day * eb.MINUTES_PER_DAY + RELEASE_MINUTE, rng.choice(durations),
                                  rng.choice(RELEASED), "errors", rng.choice(rates), cause="release"))
    month, free = [], 0
    for incident in sorted(drawn, key=lambda i: i.start):
        start = max(incident.start, free)
        if start + incident.minutes > MINUTES:
            continue
        month.append(Incident(start, incident.minutes, incident.service, incident.kind, incident.size,
                              incident.cause))
        free = start + incident.minutes
    return month


# -- measuring one incident ----------------------------------------------------------
#: Each incident is simulated for WARM_UP healthy seconds, then FAULT_SECONDS with its fault.
WARM_UP, FAULT_SECONDS = 5.0, 20.0
#: A healthy run is this long.
HEALTHY_SECONDS = 40.0


@dataclass(frozen=True)
class Effect:
    """What an incident did to the pages while it lasted: the share that were bad,
    and the most calls any service got per page (with the service's name)."""

    bad: float
    calls_per_page: float
    busiest: str
    pages: int

    def __repr__(self):
        return (f"Effect({self.bad:.1%} of {self.pages} pages bad, at most {self.calls_per_page:.2f} calls per page "
                f"({self.busiest}))")


def bad_pages(result, since, until) -> tuple[int, int]:
    """(bad pages, pages) among the page requests that started in ``[since, until)``:
    a page is good if it answered ``ok`` within :data:`GOOD_WITHIN` seconds."""
    pages = result.calls_to("frontend", CLIENT) & (result.start >= since) & (result.start < until)
    good = pages & (result.outcome == Outcome.OK) & (result.latency <= GOOD_WITHIN)
    return int(pages.sum() - good.sum()), int(pages.sum())


def calls_per_page(result, since, until) -> tuple[float, str]:
    """The most calls (attempts, retries included) any service received per page
    request started in ``[since, until)``, and which service that was."""
    _, pages = bad_pages(result, since, until)
    worst, name = 0.0, "frontend"
    for service in SERVICES:
        if service == "frontend":
            continue
        times = result.arrivals[service]
        share = np.count_nonzero((times >= since) & (times < until)) / max(pages, 1)
        if share > worst:
            worst, name = share, service
    return float(worst), name


def run_incident(plan: Plan, incident: Incident | None):
    """One run of the shop with ``plan``: healthy, or with ``incident``'s fault after
    :data:`WARM_UP` seconds. Returns (the run, the window measured)."""
    if incident is None:
        world = shop_world(plan, seed="capstone/healthy")
        return world.run(HEALTHY_SECONDS + 2.0), (WARM_UP, HEALTHY_SECONDS)
    service, kind, size = incident.what
    world = shop_world(plan, seed=f"capstone/{service}/{kind}/{size}")
    window = (WARM_UP, WARM_UP + FAULT_SECONDS)
    world.inject(incident.fault(*window))
    return world.run(window[1] + 2.0), window


@functools.lru_cache(maxsize=512)
def _effect(key: str, what: tuple | None) -> Effect:
    plan = Plan.from_data(json.loads(key))
    incident = None if what is None else Incident(0, 1, *what)
    result, (since, until) = run_incident(plan, incident)
    bad, pages = bad_pages(result, since, until)
    load, busiest = calls_per_page(result, since, until)
    return Effect(bad / max(pages, 1), load, busiest, pages)


def effect(plan: Plan, incident: Incident | None) -> Effect:
    """The :class:`Effect` of ``incident`` (None: a healthy run) on the shop with ``plan``,
    simulated once per plan and kind of incident (the result is kept)."""
    return _effect(plan.key(), None if incident is None else incident.what)


# -- a month ------------------------------------------------------------------------------
@dataclass
class Month:
    """A simulated month: per minute, the share of bad pages, and what happened.

    ``incidents``: those that happened (a bad release planned after the freeze
    did not: it is in ``frozen``); ``effects``: each incident's :class:`Effect`;
    ``healthy``: the effect of a healthy run; ``freeze``: the minute releases
    stopped (None if the budget lasted); ``left``: the share of the budget left
    after each minute; ``fires``: for each alert of :data:`.error_budget.ALERTS`,
    whether it fires at each minute.
    """

    plan: Plan
    bad: np.ndarray
    incidents: list
    frozen: list
    effects: dict
    healthy: Effect
    freeze: int | None
    left: np.ndarray
    fires: dict

    @property
    def spent(self) -> float:
        """The share of the month's error budget spent (above 1: the SLO is missed)."""
        return float(1.0 - self.left[-1])

    @property
    def good(self) -> float:
        """The share of the month's pages that were good."""
        return float(1.0 - self.bad.mean())

    @property
    def slo_met(self) -> bool:
        return self.good >= SLO - 1e-12

    @property
    def calls_per_page(self) -> tuple[float, str]:
        """The most calls any service got per page, in the healthy run or any incident, and where."""
        worst = max([self.healthy, *self.effects.values()], key=lambda e: e.calls_per_page)
        return worst.calls_per_page, worst.busiest

    def within_costs(self) -> bool:
        """Whether the plan's workers and every run of the month keep within :data:`COSTS`."""
        return (self.plan.extra_workers <= COSTS["workers"]
                and self.calls_per_page[0] <= COSTS["calls per page"] + 1e-9)

    def report(self) -> dict:
        """The month in a few numbers."""
        load, where = self.calls_per_page
        return {"good pages": f"{self.good:.4%}", "SLO met": self.slo_met, "budget spent": f"{self.spent:.0%}",
                "minutes of budget spent": round(self.spent * BUDGET, 1),
                "release freeze from day": None if self.freeze is None else round(self.freeze / 1440, 1),
                "releases frozen": len(self.frozen),
                "pages": {a.name: len(eb.alert_spans(self.fires[a.name])) for a in eb.PAGES},
                "tickets": sum(len(eb.alert_spans(self.fires[a.name])) for a in eb.ALERTS if a.severity == "ticket"),
                "workers added": self.plan.extra_workers, "most calls per page": f"{load:.2f} ({where})"}

    def table(self) -> dict:
        """Per incident (by day and what happened): how long it lasted, the share of
        pages it made bad, and the share of the budget it spent."""
        rows = {}
        for incident in self.incidents:
            share = self.effects[incident.what].bad
            rows[f"day {incident.start / 1440:4.1f}: {incident.label}"] = (
                f"{incident.minutes} min, {share:.1%} of pages bad, {share * incident.minutes / BUDGET:.0%} of the budget")
        return rows


BUDGET = eb.budget_minutes(SLO, DAYS)


def month(plan, incidents) -> Month:
    """The month ``incidents`` (from :func:`chaos_month`) on the shop with ``plan``
    (a :class:`Plan`, a ``protect`` function, or None for no protection)."""
    if plan is None:
        plan = Plan()
    elif not isinstance(plan, Plan):
        plan = plan_of(plan)
    healthy = effect(plan, None)
    effects = {i.what: effect(plan, i) for i in incidents}
    bad = np.full(MINUTES, healthy.bad)
    for incident in incidents:
        bad[incident.start:incident.end] = effects[incident.what].bad
    # The release freeze: once the budget is spent, no more releases (and none of their bugs).
    freeze = eb.freeze_minute(bad, SLO, DAYS)
    happened, frozen = [], []
    for incident in incidents:
        if freeze is not None and incident.cause == "release" and incident.start > freeze:
            frozen.append(incident)
            bad[incident.start:incident.end] = healthy.bad
        else:
            happened.append(incident)
    fires = {alert.name: eb.firing(bad, SLO, alert) for alert in eb.ALERTS}
    return Month(plan, bad, happened, frozen, {i.what: effects[i.what] for i in happened}, healthy, freeze,
                 eb.budget_left(bad, SLO, DAYS), fires)


# -- costs ------------------------------------------------------------------------------
#: What the costs are checked under: each backend down, then failing 40% of its calls
#: (too few failures for a breaker at 50% to open), in turn.
STRESS = tuple(Incident(0, 1, name, kind, size) for kind, size in (("down", 0.0), ("errors", 0.4))
               for name in SERVICES if name != "frontend")


def costs(plan) -> dict:
    """What ``plan`` costs: the workers it adds, and the most calls any service
    receives per page, in a healthy run and under each incident of :data:`STRESS`,
    with where that happened; and whether that is within :data:`COSTS`."""
    plan = plan if isinstance(plan, Plan) else plan_of(plan)
    runs = {"healthy": effect(plan, None), **{i.label: effect(plan, i) for i in STRESS}}
    when, worst = max(runs.items(), key=lambda item: item[1].calls_per_page)
    within = plan.extra_workers <= COSTS["workers"] and worst.calls_per_page <= COSTS["calls per page"] + 1e-9
    return {"workers added": plan.extra_workers, "most calls per page": round(worst.calls_per_page, 2),
            "to": worst.busiest, "when": when, "within costs": within}


# -- the order of the patterns -------------------------------------------------------------
def _retry(budget=None):
    return Retry(3, Backoff("full", 0.01, 0.1), budget=budget)


def _breaker():
    return CircuitBreaker(failure_rate=0.5, window=5.0, minimum_calls=10, open_for=2.0)


#: Each question: (what is asked, the incident, the route, the right order, the wrong order,
#: what is measured). Orders are listed outermost first, as ``protect`` takes them.
ORDERS = (
    ("a timeout per attempt, or one around the retries?", Incident(0, 1, "catalog", "kill-hang"),
     ("frontend", "catalog"), lambda: (_retry(), Timeout(0.3)), lambda: (Timeout(0.3), _retry()), "bad pages"),
    ("the breaker outside the timeout, or inside?", Incident(0, 1, "recommendations", "hang"),
     ("frontend", "recommendations"), lambda: (Fallback(), _breaker(), Timeout(0.25)),
     lambda: (Fallback(), Timeout(0.25), _breaker()), "median page latency (s)"),
    ("the fallback last (outermost), or inside the retry?", Incident(0, 1, "recommendations", "errors", 0.5),
     ("frontend", "recommendations"), lambda: (Fallback(), _retry(), Timeout(0.25)),
     lambda: (_retry(), Fallback(), Timeout(0.25)), "pages without recommendations"),
    ("the retry outside the breaker, or inside?", Incident(0, 1, "pricing", "down"),
     ("frontend", "pricing"), lambda: (_retry(), _breaker(), Timeout(0.3)),
     lambda: (_breaker(), _retry(), Timeout(0.3)), "calls to pricing per page"),
)


def _measure(what, result, window):
    since, until = window
    pages = result.calls_to("frontend", CLIENT) & (result.start >= since) & (result.start < until)
    if what == "bad pages":
        bad, count = bad_pages(result, since, until)
        return bad / max(count, 1)
    if what == "median page latency (s)":
        return float(np.median(result.latency[pages]))
    if what == "pages without recommendations":
        calls = result.calls_to("recommendations", "frontend") & (result.start >= since) & (result.start < until)
        return float(np.count_nonzero(calls & (result.outcome == Outcome.FALLBACK)) / max(calls.sum(), 1))
    times = result.arrivals["pricing"]
    return float(np.count_nonzero((times >= since) & (times < until)) / max(pages.sum(), 1))


def order_table(rows) -> dict:
    """:func:`compare_orders`' rows, one line each: what was measured with each order."""
    return {row["question"]: f"{row['measured']}: {row['right']:g} with {row['right order']}, "
                             f"{row['wrong']:g} with {row['wrong order']} ({row['incident']})" for row in rows}


def compare_orders() -> list[dict]:
    """Each question of :data:`ORDERS`, measured with the right order and with the wrong one."""
    rows = []
    for question, incident, (caller, target), right, wrong, what in ORDERS:
        row = {"question": question, "incident": incident.label, "measured": what}
        for name, patterns in (("right", right()), ("wrong", wrong())):
            plan = Plan().protect(caller, target, *patterns)
            result, window = run_incident(plan, incident)
            row[f"{name} order"] = " → ".join(type(p).__name__ for p in patterns)
            row[name] = round(_measure(what, result, window), 3)
        rows.append(row)
    return rows
