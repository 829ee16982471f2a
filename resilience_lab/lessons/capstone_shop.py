"""Lesson 8's shop and the plans that protect it (see :mod:`.capstone`).

**The shop.** A product page (``frontend``) calls four services at once (a
fan-out): ``catalog`` (which calls ``db``) and ``pricing`` are on the critical
path, since a page without its product or its price is no page;
``recommendations`` and ``reviews`` are optional features, and a page without
them is still a good page, *if* the frontend falls back instead of failing.
:data:`PAGE_RATE` pages a second arrive; a page is good if it answers ``ok``
within :data:`GOOD_WITHIN` seconds.

**Plans.** A :class:`Plan` records the course's patterns on each call
(``plan.protect("frontend", "pricing", Retry(...), Timeout(0.3))``, outermost
first, as :meth:`World.protect` takes them) and the workers added to services
(``plan.add_workers("catalog", 1)``), within the costs of :data:`COSTS`. A plan
is plain data once recorded (:meth:`Plan.as_data`), and :meth:`Plan.from_data`
builds it again, checking every value: the grader rebuilds a student's plan in
its own process that way.
"""

from __future__ import annotations

import json

from ..outcomes import Outcome
from ..patterns.bulkhead import Bulkhead
from ..patterns.circuit_breaker import CircuitBreaker
from ..patterns.deadline import Deadline
from ..patterns.fallback import Fallback
from ..patterns.retry import Backoff, Retry, RetryBudget
from ..patterns.timeout import Timeout
from ..world import CLIENT, LogNormal, World

# -- the shop -----------------------------------------------------------------------
PAGE_RATE = 50.0
#: A page is good if it answers ok within this many seconds.
GOOD_WITHIN = 1.0
CRITICAL = ("catalog", "pricing", "db")
OPTIONAL = ("recommendations", "reviews")
#: name -> (instances, workers per instance, latency, calls)
SERVICES = {
    "frontend": (1, 60, LogNormal(0.005), ("catalog", "pricing", "recommendations", "reviews")),
    "catalog": (3, 4, LogNormal(0.06), ("db",)),
    "db": (1, 20, LogNormal(0.01), ()),
    "pricing": (3, 4, LogNormal(0.015), ()),
    "recommendations": (1, 20, LogNormal(0.06, 0.5), ()),
    "reviews": (1, 10, LogNormal(0.025), ()),
}
#: Every call a plan may protect: (caller, target).
ROUTES = ((CLIENT, "frontend"),) + tuple(
    (name, target) for name, (_, _, _, calls) in SERVICES.items() for target in calls)
#: What a plan may cost: workers added in all (each instance counts), and the
#: most calls any service may receive per page request, retries included, in a
#: healthy run and during any incident (without protection: at most 1).
COSTS = {"workers": 12, "calls per page": 1.5}


def shop_world(plan: Plan | None = None, *, seed=8) -> World:
    """The shop (see the module), with ``plan``'s workers and patterns, and its load."""
    plan = plan or Plan()
    world = World(seed=seed, sample_every=0.5)
    for name, (instances, workers, latency, calls) in SERVICES.items():
        world.service(name, instances=instances, workers=workers + plan.workers.get(name, 0),
                      latency=latency, calls=calls, parallel=len(calls) > 1)
    for (caller, target), policies in plan.routes.items():
        world.protect(caller, target, *policies)
    world.load("frontend", rate=PAGE_RATE)
    return world


# -- plans ----------------------------------------------------------------------------
PATTERNS = (Timeout, Deadline, CircuitBreaker, Bulkhead, Retry, Fallback)
MAX_ATTEMPTS = 5
#: A retry budget's window slides in at most this many steps (each is a list kept in memory).
MAX_BUCKETS = 1000
_BREAKER_FIELDS = ("mode", "failure_rate", "window", "minimum_calls", "failure_threshold", "open_for", "probes",
                   "slow_call_duration")


class Plan:
    """What protects the shop: patterns on calls, and workers added.

    ``protect(caller, target, *patterns)``: the course's patterns (``Timeout``,
    ``Deadline``, ``CircuitBreaker``, ``Bulkhead``, ``Retry`` with a ``Backoff``
    and maybe a ``RetryBudget``, ``Fallback``), outermost first, on every call
    from ``caller`` (``"client"`` for the page requests) to ``target``.
    A fallback is allowed only on calls to an optional feature. The same
    object on two routes is one shared object (a shared bulkhead, say).

    Each pattern at most once per call, and a retry makes at most
    :data:`MAX_ATTEMPTS` attempts.

    ``add_workers(service, count)``: ``count`` more workers on each instance of
    ``service``; the cost is ``count`` times its instances.
    """

    def __init__(self):
        self.routes: dict[tuple[str, str], tuple] = {}
        self.workers: dict[str, int] = {}

    def protect(self, caller, target, *patterns):
        if (caller, target) not in ROUTES:
            known = ", ".join(f"{c} -> {t}" for c, t in ROUTES)
            raise ValueError(f"no calls go from {caller!r} to {target!r}; the shop's calls: {known}")
        kinds = [type(p) for p in patterns]
        for pattern in patterns:
            if type(pattern) not in PATTERNS:
                names = ", ".join(p.__name__ for p in PATTERNS)
                raise ValueError(f"{pattern!r} on {caller} -> {target} is not one of the course's patterns "
                                 f"({names}, from resilience_lab.patterns)")
            if isinstance(pattern, Fallback) and target not in OPTIONAL:
                raise ValueError(f"a Fallback on {caller} -> {target}: a page without its {target} is not a good "
                                 f"page; fall back only on the optional features ({', '.join(OPTIONAL)})")
            if kinds.count(type(pattern)) > 1:
                raise ValueError(f"two {type(pattern).__name__}s on {caller} -> {target}: each pattern at most "
                                 "once per call")
            if isinstance(pattern, Retry) and pattern.max_attempts > MAX_ATTEMPTS:
                raise ValueError(f"Retry({pattern.max_attempts}) on {caller} -> {target}: at most {MAX_ATTEMPTS} "
                                 "attempts in all (the SRE book advises 3)")
        self.routes[(caller, target)] = tuple(patterns)
        return self

    def add_workers(self, service, count):
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; the shop's services: {', '.join(SERVICES)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"add_workers({service!r}, ...) takes a whole number of workers >= 0, got {count!r}")
        self.workers[service] = self.workers.get(service, 0) + count
        return self

    @property
    def extra_workers(self) -> int:
        """Workers added in all: each instance's count."""
        return sum(count * SERVICES[name][0] for name, count in self.workers.items())

    # -- as plain data, and back ------------------------------------------------------
    def as_data(self) -> dict:
        """The plan as plain data: ``{"workers": {...}, "objects": [...], "routes": [...]}``,
        where each route lists indexes into ``objects`` (one entry per distinct object)."""
        objects, index = [], {}

        def ref(thing, describe):
            if id(thing) not in index:
                index[id(thing)] = len(objects)
                objects.append(None)
                objects[index[id(thing)]] = describe(thing)
            return index[id(thing)]

        def budget(b):
            return {"kind": "RetryBudget", "ratio": b.ratio, "window": b.window,
                    "min_per_second": b.min_per_second, "buckets": b.buckets}

        def pattern(p):
            kind = type(p).__name__
            if isinstance(p, (Timeout, Deadline)):
                return {"kind": kind, "seconds": p.seconds}
            if isinstance(p, CircuitBreaker):
                return {"kind": kind, **{name: getattr(p, name) for name in _BREAKER_FIELDS}}
            if isinstance(p, Bulkhead):
                return {"kind": kind, "max_concurrent": p.max_concurrent, "max_wait": p.max_wait}
            if isinstance(p, Fallback):
                return {"kind": kind, "on": sorted(o.name for o in p.on), "seconds": p.seconds}
            backoff = p.backoff
            if type(backoff) is not Backoff:
                raise ValueError(f"Retry's backoff must be a Backoff(jitter, base, cap), got {backoff!r}")
            if p.budget is not None and type(p.budget) is not RetryBudget:
                raise ValueError(f"Retry's budget must be a RetryBudget(...) or None, got {p.budget!r}")
            return {"kind": kind, "max_attempts": p.max_attempts,
                    "backoff": {"jitter": backoff.jitter, "base": backoff.base, "cap": backoff.cap},
                    "retry_on": sorted(p.retry_on, key=repr),
                    "budget": None if p.budget is None else ref(p.budget, budget)}

        routes = [[caller, target, [ref(p, pattern) for p in patterns]]
                  for (caller, target), patterns in self.routes.items()]
        return {"workers": dict(self.workers), "objects": objects, "routes": routes}

    @classmethod
    def from_data(cls, data) -> Plan:
        """The plan that :meth:`as_data` described; every value is checked again."""
        if not isinstance(data, dict) or set(data) != {"workers", "objects", "routes"}:
            raise ValueError("a plan's data is a dict with 'workers', 'objects' and 'routes'")
        plan = cls()
        for service, count in dict(data["workers"]).items():
            plan.add_workers(service, count)
        made = {}

        def build(i):
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(data["objects"]):
                raise ValueError(f"a plan refers to object {i!r}, which it does not hold")
            if i not in made:
                made[i] = _build(dict(data["objects"][i]), build)
            return made[i]

        for route in data["routes"]:
            caller, target, refs = route
            plan.protect(caller, target, *[build(i) for i in refs])
        return plan

    def key(self) -> str:
        """A string that two plans share exactly when they protect the shop the same way."""
        return json.dumps(self.as_data(), sort_keys=True, default=str)

    def __repr__(self):
        lines = [f"  {c} -> {t}: " + ", ".join(repr(p) for p in ps) for (c, t), ps in self.routes.items()]
        lines += [f"  {s}: +{n} workers per instance" for s, n in self.workers.items()]
        return "Plan(\n" + "\n".join(lines) + "\n)" if lines else "Plan(no protection)"


def _build(spec, build):
    kind = spec.pop("kind", None)
    if kind in ("Timeout", "Deadline"):
        return (Timeout if kind == "Timeout" else Deadline)(**spec)
    if kind == "CircuitBreaker":
        return CircuitBreaker(**spec)
    if kind == "Bulkhead":
        return Bulkhead(**spec)
    if kind == "Fallback":
        return Fallback(on=frozenset(Outcome[name] for name in spec["on"]), seconds=spec["seconds"])
    if kind == "Retry":
        budget = spec["budget"]
        retry_on = spec["retry_on"]
        if not all(isinstance(e, (str, int)) and not isinstance(e, bool) for e in retry_on):
            raise ValueError(f"Retry's retry_on holds errors (strings such as 'timeout', or statuses), "
                             f"got {retry_on!r}")
        return Retry(max_attempts=spec["max_attempts"], backoff=Backoff(**spec["backoff"]),
                     retry_on=frozenset(retry_on), budget=None if budget is None else build(budget))
    if kind == "RetryBudget":
        buckets = spec.get("buckets", 10)
        if not isinstance(buckets, int) or buckets > MAX_BUCKETS:
            raise ValueError(f"a RetryBudget of {buckets!r} buckets: at most {MAX_BUCKETS}")
        return RetryBudget(**spec)
    raise ValueError(f"a plan holds an object of kind {kind!r}, which is not one of the course's patterns")


def plan_of(protect) -> Plan:
    """The plan that ``protect(plan)`` records on a new :class:`Plan`."""
    plan = Plan()
    protect(plan)
    return plan
