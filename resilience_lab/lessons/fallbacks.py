"""Lesson 6: fallbacks and graceful degradation, and writes that are never lost or done twice.

**The page** (:func:`page_run`). A shop's product page is assembled from five
services, called in parallel: ``product`` and ``price`` are critical (no page
without them), ``recommendations``, ``reviews`` and ``profile`` are optional.
Pages arrive at 20 a second, each for one of 200 products, the popular ones
far more often (the k-th most popular is asked for in proportion to 1/k). One
dependency goes down during ``outage``: a call to it hangs until the caller's
0.5 s timeout. Each dependency's answers pass through a fallback chain
(:class:`~resilience_lab.patterns.fallback_chain.FallbackChain`, or anything
with its ``serve(now, key, call)``); the *same* pages, products and latencies
are drawn whatever the chains do, so runs with different chains compare side
by side. A page **fails** when a part is served as ``"failed"``; it is
**degraded** when a part came from the cache, a default, or was left out.

**The orders** (:mod:`.orders`): checkouts queued for later while the payment
service is down, then drained, with idempotency keys.

Measured: page availability, the share of pages degraded, the age of what was
served from a cache (a distribution), the fallbacks served (the number to alert
on), the pages' p99 latency and the calls made to services that were down; for
the orders, see :mod:`.orders`.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

import numpy as np

from ..figures.panel import Panel, slider
from ..figures.run import COLOURS, FAULT_COLOUR, figure_png
from ..figures.table import Table
from ..patterns.fallback_chain import SOURCES, FallbackChain, Served
from . import orders
from .orders import DroppingQueue, NoKeys, order_report, order_run, plot_orders  # noqa: F401  (as lesson.*)

DEPENDENCIES = ("product", "price", "recommendations", "reviews", "profile")
CRITICAL = frozenset({"product", "price"})
OPTIONAL = tuple(d for d in DEPENDENCIES if d not in CRITICAL)
#: The default answer of the optional dependencies that have one; the others are left out.
DEFAULTS = {"recommendations": "recommendations are unavailable"}
#: ``bestsellers`` reads the same database as ``recommendations``: it is down when they are.
SHARED_FATE = {"bestsellers": "recommendations"}
PAGE_RATE = 20.0
PRODUCTS = 200
#: A call's latency when its service is up: log-normal, median 30 ms; a down service hangs until the timeout.
MEDIAN_LATENCY, SIGMA = 0.030, 0.4
CALL_TIMEOUT = 0.5
OUTAGE = (30.0, 90.0)
TTL = 30.0
UNTIL = 150.0
_CODE = {source: i for i, source in enumerate(SOURCES)}
FULL, DEGRADED, FAILED = 0, 1, 2


class DependencyDown(TimeoutError):
    """A call to a service that is down: no answer within the caller's timeout."""


@dataclass(frozen=True)
class Data:
    """What a service answers: its data about ``key``, produced at ``time``."""

    service: str
    key: str
    time: float


class Call:
    """One page's call to one service: ``call()`` asks it (and counts the call and the wait);
    :meth:`elsewhere` calls another service instead, for fallbacks that do."""

    __slots__ = ("run", "service", "key", "now", "latency", "spent")

    def __init__(self, run, service, key, now, latency):
        self.run, self.service, self.key, self.now, self.latency = run, service, key, now, latency
        self.spent = 0.0

    def __call__(self):
        return self._ask(self.service)

    def elsewhere(self, service):
        """A call to ``service`` for the same page (it waits like any call)."""
        return lambda: self._ask(service)

    def _ask(self, service):
        run = self.run
        if run.is_down(SHARED_FATE.get(service, service), self.now):
            run.calls_while_down[service] = run.calls_while_down.get(service, 0) + 1
            self.spent += CALL_TIMEOUT
            raise DependencyDown(f"{service} did not answer within {CALL_TIMEOUT:g} s")
        self.spent += self.latency if not self.spent else run.extra_latency()
        return Data(service, self.key, self.now)


@dataclass
class PageRun:
    """The pages of one run: for each page its start, product, status, latency, and for each
    dependency the source (an index into ``SOURCES``) and age of what it was served."""

    down: str
    outage: tuple
    until: float
    time: np.ndarray = None
    key: np.ndarray = None
    status: np.ndarray = None  # FULL, DEGRADED or FAILED
    latency: np.ndarray = None
    source: dict = field(default_factory=dict)  # dependency -> array of source codes
    age: dict = field(default_factory=dict)  # dependency -> array of ages (nan: no age)
    calls_while_down: dict = field(default_factory=dict)  # service -> calls made to it while it was down
    _rng: random.Random = None

    def is_down(self, service, now):
        start, end = self.outage
        return service == self.down and start <= now < end

    def extra_latency(self):
        return self._rng.lognormvariate(math.log(MEDIAN_LATENCY), SIGMA)

    def during(self, since=None, until=None):
        """A mask of the pages that started in ``[since, until)`` (default: the outage)."""
        since = self.outage[0] if since is None else since
        until = self.outage[1] if until is None else until
        return (self.time >= since) & (self.time < until)


def standard_chains(max_age=TTL):
    """The chains a careful page uses: critical dependencies fail, optional ones fall back
    through the cache (``max_age``), their default if they have one, else leave the part out."""
    return {dep: FallbackChain(max_age, DEFAULTS.get(dep), critical=dep in CRITICAL) for dep in DEPENDENCIES}


def page_run(chains=None, *, down="recommendations", outage=OUTAGE, until=UNTIL, rate=PAGE_RATE,
             products=PRODUCTS, seed=6) -> PageRun:
    """Simulate the page for ``until`` seconds with ``down`` down during ``outage``.

    ``chains``: ``{dependency: chain}`` for any dependency whose chain differs from
    :func:`standard_chains` (a chain is anything with ``serve(now, key, call)``
    returning ``(source, value, age)``).
    """
    if down not in DEPENDENCIES and down is not None:
        raise ValueError(f"down must be one of {DEPENDENCIES} (or None), got {down!r}")
    start, end = outage
    if not (0 <= start <= end):
        raise ValueError(f"outage must be (start, end) with 0 <= start <= end, got {outage!r}")
    for name, value in (("until", until), ("rate", rate)):
        if not (isinstance(value, (int, float)) and 0 < value < math.inf):
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if isinstance(products, bool) or not isinstance(products, int) or products < 1:
        raise ValueError(f"products must be a whole number >= 1, got {products!r}")
    chains = dict(chains or {})
    if set(chains) != set(DEPENDENCIES):
        chains = {**standard_chains(), **chains}
    arrivals = random.Random(f"pages/{seed}")
    run = PageRun(down, (float(start), float(end)), float(until), _rng=random.Random(f"pages/{seed}/extra"))
    weights = list(itertools.accumulate(1.0 / k for k in range(1, products + 1)))
    keys = [f"p{k}" for k in range(1, products + 1)]
    times, picked, status, latency = [], [], [], []
    source = {dep: [] for dep in DEPENDENCIES}
    age = {dep: [] for dep in DEPENDENCIES}
    mu = math.log(MEDIAN_LATENCY)
    now = 0.0
    while True:
        now += arrivals.expovariate(rate)
        if now >= until:
            break
        key = arrivals.choices(keys, cum_weights=weights)[0]
        page, slowest = FULL, 0.0
        for dep in DEPENDENCIES:
            call = Call(run, dep, key, now, arrivals.lognormvariate(mu, SIGMA))
            answer = chains[dep].serve(now, key, call)
            code = _CODE[answer[0]]
            source[dep].append(code)
            age[dep].append(math.nan if answer[2] is None else answer[2])
            slowest = max(slowest, call.spent)
            if code == _CODE["failed"]:
                page = FAILED
            elif code != _CODE["fresh"] and page == FULL:
                page = DEGRADED
        times.append(now)
        picked.append(key)
        status.append(page)
        latency.append(slowest)
    run.time, run.key = np.array(times), np.array(picked)
    run.status, run.latency = np.array(status, dtype=np.int8), np.array(latency)
    run.source = {dep: np.array(codes, dtype=np.int8) for dep, codes in source.items()}
    run.age = {dep: np.array(ages, dtype=float) for dep, ages in age.items()}
    return run


# -- the options, side by side ----------------------------------------------------
def options(max_age=TTL, dependency="recommendations"):
    """The ways to handle a failed call to ``dependency``, as chains: ``{name: chain}``."""
    default = DEFAULTS.get(dependency, f"{dependency} unavailable")
    return {
        "error propagates": FallbackChain(max_age, steps=("call",)),
        f"cache ({max_age:g} s), else error": FallbackChain(max_age, steps=("call", "cache")),
        "default response": FallbackChain(max_age, default, steps=("call", "default")),
        "leave the widget out": FallbackChain(max_age, steps=("call", "degrade")),
        "cache, then default": FallbackChain(max_age, default),
    }


def compare(chains: dict, *, down="recommendations", **options_):
    """One run per chain for ``down``, on the same pages: ``{name: PageRun}``."""
    return {name: page_run({down: chain}, down=down, **options_) for name, chain in chains.items()}


class AskAnotherService:
    """A fallback that calls another service, ``other``, when the call fails, then gives
    up to ``default``. If ``other`` shares the failing dependency's fate (the same database),
    it fails too: one more call to a sick system, one more timeout to wait."""

    def __init__(self, other="bestsellers", default=DEFAULTS["recommendations"]):
        self.other, self.default = other, default

    def serve(self, now, key, call):
        try:
            return Served("fresh", call(), 0.0)
        except Exception:
            pass
        try:
            return Served("default", call.elsewhere(self.other)(), None)
        except Exception:
            return Served("default", self.default, None)


# -- measurements --------------------------------------------------------------------
def availability(run, since=None, until=None) -> float:
    """The share of pages started in the window (default: the outage) that did not fail."""
    mask = run.during(since, until)
    return float(np.mean(run.status[mask] != FAILED)) if mask.any() else math.nan


def degraded_share(run, since=None, until=None) -> float:
    """The share of pages started in the window (default: the outage) served degraded."""
    mask = run.during(since, until)
    return float(np.mean(run.status[mask] == DEGRADED)) if mask.any() else math.nan


def cache_ages(run, dependency=None) -> np.ndarray:
    """The ages (s) of every answer served from the cache for ``dependency`` (default: the one down)."""
    dependency = dependency or run.down
    return run.age[dependency][run.source[dependency] == _CODE["cache"]]


def served(run, dependency=None, since=None, until=None) -> dict:
    """How the requests in the window were served for ``dependency``: ``{source: share}``."""
    dependency = dependency or run.down
    codes = run.source[dependency][run.during(since, until)]
    return {s: round(float(np.mean(codes == i)), 3) for i, s in enumerate(SOURCES) if codes.size and (codes == i).any()}


def report(runs: dict) -> dict:
    """Per run: availability and share degraded during the outage, ages served from the
    cache (median, p99, oldest), the pages' p99 latency during the outage, and the calls made
    to services while they were down (each waited for the 0.5 s timeout)."""
    rows = Table()
    for name, run in runs.items():
        ages = cache_ages(run)
        mask = run.during()
        rows[name] = {
            "availability": f"{availability(run):.1%}",
            "degraded": f"{degraded_share(run):.1%}",
            "cache age p50 / p99 / max (s)": (" / ".join(f"{q:.0f}" for q in np.percentile(ages, [50, 99, 100]))
                                              if ages.size else "-"),
            "page p99 (ms)": round(float(np.percentile(run.latency[mask], 99)) * 1000) if mask.any() else "-",
            "calls to services down": sum(run.calls_while_down.values()),
        }
    return rows


def per_bucket(run, bucket=2.0):
    """(bucket starts, {what the user saw: share of the pages of the bucket}) for the
    dependency that was down: its fresh, cache, default and left-out answers on pages
    that were served, and the pages that failed."""
    n = max(1, int(math.ceil(run.until / bucket)))
    slot = np.minimum((run.time // bucket).astype(int), n - 1)
    pages = np.maximum(np.bincount(slot, minlength=n), 1)
    codes = run.source[run.down] if run.down else np.zeros(len(run.time), dtype=np.int8)
    failed = run.status == FAILED
    shares = {}
    for source in ("fresh", "cache", "default", "degraded"):
        shares[source] = np.bincount(slot, weights=(codes == _CODE[source]) & ~failed, minlength=n) / pages
    shares["page failed"] = np.bincount(slot, weights=failed, minlength=n) / pages
    return np.arange(n) * bucket, shares


def fallbacks_per_second(run, bucket=2.0):
    """(bucket starts, fallbacks served per second over all dependencies, failed pages per second)."""
    n = max(1, int(math.ceil(run.until / bucket)))
    slot = np.minimum((run.time // bucket).astype(int), n - 1)
    fallback = sum(((codes == _CODE["cache"]) | (codes == _CODE["default"]) | (codes == _CODE["degraded"]))
                   for codes in run.source.values())
    return (np.arange(n) * bucket, np.bincount(slot, weights=fallback, minlength=n) / bucket,
            np.bincount(slot, weights=run.status == FAILED, minlength=n) / bucket)


# -- figures --------------------------------------------------------------------------
SEEN = {"fresh": "#9ecae1", "cache": COLOURS[0], "default": COLOURS[2], "degraded": COLOURS[3],
        "page failed": COLOURS[1]}
SEEN_LABELS = {"fresh": "fresh", "cache": "from the cache", "default": "default answer",
               "degraded": "widget left out", "page failed": "page failed"}


def _stack(ax, run, bucket=2.0):
    t, shares = per_bucket(run, bucket)
    t = np.append(t, run.until)  # the last bucket drawn to the end of the run
    polys = ax.stackplot(t, *[100 * np.append(shares[k], shares[k][-1]) for k in SEEN], colors=list(SEEN.values()),
                         step="post", labels=[SEEN_LABELS[k] for k in SEEN], lw=0)
    if run.outage[1] > run.outage[0]:
        ax.axvline(run.outage[0], color="black", lw=1, ls="--")
        ax.axvline(run.outage[1], color="black", lw=1, ls="--")
    ax.set_xlim(0, run.until)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter("{x:.0f}%")
    return polys


def plot_pages(runs: dict, bucket=2.0):
    """What the users saw of the dependency that was down, over time, one row per run;
    the outage between the dashed lines."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 1.45 * len(runs) + 0.6), dpi=80, layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(runs), 1, sharex=True))
    for ax, (name, run) in zip(axes, runs.items()):
        polys = _stack(ax, run, bucket)
        ax.set_title(f"{name}: {availability(run):.1%} of pages served during the outage, "
                     f"{degraded_share(run):.0%} degraded", fontsize=9, loc="left")
    axes[-1].set_xlabel(f"simulated time (s)   ({next(iter(runs.values())).down} down between the dashed lines)")
    fig.legend(polys, [p.get_label() for p in polys], loc="outside right upper", fontsize=8, frameon=False)
    return fig


def plot_ages(runs: dict, max_age=None):
    """The distribution of the ages of the answers served from the cache, one line per run
    (the share served at most that old), the allowed age dashed."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 3), dpi=80, layout="constrained")
    ax = fig.subplots()
    for i, (name, run) in enumerate(runs.items()):
        ages = np.sort(cache_ages(run))
        if ages.size:
            ax.step(ages, np.arange(1, ages.size + 1) / ages.size * 100, where="post", color=COLOURS[i], lw=2,
                    label=f"{name} (oldest {ages[-1]:.0f} s)")
    if max_age is not None:
        ax.axvline(max_age, color="black", ls="--", lw=1, label=f"allowed age {max_age:g} s")
    ax.set_xlabel("age of the data served from the cache (s)")
    ax.set_ylabel("answers at most this old")
    ax.yaxis.set_major_formatter("{x:.0f}%")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, alpha=0.3)
    return fig


def plot_alert(run, threshold=5.0, bucket=2.0):
    """Failed pages and fallbacks served per second: the pages look fine, the fallbacks do not."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 2.8), dpi=80, layout="constrained")
    ax = fig.subplots()
    t, fallbacks, failed = fallbacks_per_second(run, bucket)
    ax.step(t, failed, where="post", color=COLOURS[1], lw=2, label="failed pages / s")
    ax.step(t, fallbacks, where="post", color=COLOURS[0], lw=2, label="fallbacks served / s")
    ax.axhline(threshold, color="black", ls=":", lw=1, label=f"alert: more than {threshold:g} fallbacks / s")
    ax.axvspan(*run.outage, color=FAULT_COLOUR, alpha=0.2, lw=0)
    ax.set_xlim(0, run.until)
    ax.set_xlabel(f"simulated time (s)   (shaded: {run.down} down)")
    ax.set_ylabel("per second")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(True, alpha=0.3)
    return fig


# -- the panel ---------------------------------------------------------------------------
PANEL_DOWN = ("recommendations", "reviews", "profile", "price", "payments")


class FallbackFigure:
    """Three panels, whose data :meth:`update` replaces: what the users saw of the dependency
    down (stacked shares over time), the ages served from the cache, and the orders' queue
    with the load on the payment service."""

    def __init__(self):
        from matplotlib.figure import Figure
        self.fig = Figure(figsize=(10, 7.2), dpi=80)
        self.fig.subplots_adjust(left=0.08, right=0.80, top=0.95, bottom=0.07, hspace=0.55, wspace=0.3)
        grid = self.fig.add_gridspec(3, 1, height_ratios=[1.1, 1, 1.1])
        self.ax_pages = self.fig.add_subplot(grid[0])
        self.ax_ages = self.fig.add_subplot(grid[1])
        self.ax_orders = self.fig.add_subplot(grid[2])
        self.ax_load = self.ax_orders.twinx()
        self._artists = []
        self.ax_ages.set_xlabel("age of the data served from the cache (s)")
        self.ax_ages.set_ylabel("answers")
        self.ax_orders.set_xlabel("simulated time (s)")
        self.ax_orders.set_ylabel("orders in the queue", color=COLOURS[0])
        self.ax_load.set_ylabel("calls / s reaching payments", color=COLOURS[1])
        (self.backlog,) = self.ax_orders.plot([], [], color=COLOURS[0], lw=2)
        (self.load,) = self.ax_load.plot([], [], color=COLOURS[1], lw=1)
        self.capacity = self.ax_load.axhline(orders.CAPACITY_PER_SECOND, color=COLOURS[1], ls=":", lw=1)
        for ax in (self.ax_ages, self.ax_orders):
            ax.grid(True, alpha=0.3)

    def update(self, result):
        pages, ages, order = result["pages"], result["ages"], result["orders"]
        for artist in self._artists:
            artist.remove()
        self._artists = []
        # 1. what the users saw
        self.ax_pages.clear()
        polys = _stack(self.ax_pages, pages)
        if pages.outage[1] <= pages.outage[0]:
            title = "pages, no outage"
        elif pages.down is None:
            title = "pages: none of their services is down"
        else:
            title = (f"pages, {pages.down} down: {availability(pages):.1%} served during the outage, "
                     f"{degraded_share(pages):.0%} degraded")
        self.ax_pages.set_title(title, fontsize=9, loc="left")
        self.ax_pages.legend(polys, [p.get_label() for p in polys], loc="upper left", bbox_to_anchor=(1.01, 1.0),
                             fontsize=8, frameon=False)
        # 2. the ages served from the cache
        self.ax_ages.clear()
        self.ax_ages.grid(True, alpha=0.3)
        self.ax_ages.set_xlabel("age of the data served from the cache (s)")
        self.ax_ages.set_ylabel("answers")
        top = max(result["max_age"], float(ages.max()) if ages.size else 0.0, 1.0)
        bins = np.linspace(0.0, top * 1.05, 31)
        counts, _, _ = self.ax_ages.hist(ages, bins=bins, color=COLOURS[0])
        self.ax_ages.axvline(result["max_age"], color="black", ls="--", lw=1)
        self.ax_ages.set_xlim(0.0, top * 1.05)
        self.ax_ages.set_ylim(0.0, max(1.0, float(counts.max())) * 1.1)
        if not ages.size:
            self.ax_ages.text(0.5, 0.5, "nothing was served from the cache", transform=self.ax_ages.transAxes,
                              ha="center", va="center", color="grey")
        served_ = f"{ages.size:,} answers from the cache, the oldest {ages.max():.0f} s old" if ages.size else \
            "no answer from the cache"
        self.ax_ages.set_title(f"{served_}; dashed: the TTL, {result['max_age']:g} s", fontsize=9, loc="left")
        # 3. the orders
        t, held = order.backlog
        self.backlog.set_data(t, held)
        t, per_second = order.load()
        self.load.set_data(t, per_second)
        for ax in (self.ax_orders, self.ax_load):
            ax.relim()
            ax.autoscale_view()
        # At least 10 orders tall: the few orders passing through while payments is up stay a ripple.
        self.ax_orders.set_ylim(0, max(10.0, float(np.nanmax(held)) if held.size else 0.0) * 1.1)
        self.ax_load.set_ylim(0, max(orders.CAPACITY_PER_SECOND, float(per_second.max()) if per_second.size
                                     else 0.0) * 1.1)
        # The backlog is sampled until the queue has drained, which may be after ``until``.
        self.ax_orders.set_xlim(0, max(order.until, float(t.max()) if len(t) else 0.0,
                                       float(order.backlog[0].max()) if len(order.backlog[0]) else 0.0))
        if order.outage[1] > order.outage[0]:
            self._artists.append(self.ax_orders.axvspan(*order.outage, color=FAULT_COLOUR, alpha=0.2, lw=0))
        summary = order_report({"": order})[""]
        drained = (f"; drained in {summary['drain (s)']} s" if order.outage[1] > order.outage[0]
                   else "; payments never down")
        self.ax_orders.set_title(f"orders: {summary['accepted']} accepted, {summary['refused (503)']} refused, "
                                 f"{summary['lost']} lost, {summary['charged twice']} charged twice{drained}",
                                 fontsize=9, loc="left")
        return self.fig

    def png(self) -> bytes:
        return figure_png(self.fig)


class FallbackPanel(Panel):
    """Take one dependency down for a while; set the cache's TTL and the orders' queue capacity."""

    def __init__(self):
        import ipywidgets as widgets
        self.controls = {
            "down": widgets.ToggleButtons(options=list(PANEL_DOWN), value="recommendations",
                                          description="down:", style={"button_width": "150px"}),
            "outage": slider("outage (s)", value=60, min=0, max=120, step=5),
            "ttl": slider("cache TTL (s)", value=int(TTL), min=0, max=120, step=5),
            "capacity": slider("queue capacity", value=1000, min=0, max=2000, step=50),
        }
        self.figure = FallbackFigure()
        super().__init__()

    def simulate(self, settings):
        outage = (OUTAGE[0], OUTAGE[0] + settings["outage"])
        until = max(UNTIL, outage[1] + 60.0)  # a minute after the outage, to see the recovery and the drain
        down, ttl = settings["down"], float(settings["ttl"])
        pages = page_run(standard_chains(ttl), down=down if down in DEPENDENCIES else None, outage=outage,
                         until=until)
        order = order_run(capacity=settings["capacity"], outage=outage if down == "payments" else (0.0, 0.0),
                          until=until)
        return {"pages": pages, "ages": cache_ages(pages) if pages.down else np.empty(0), "max_age": ttl,
                "orders": order, "settings": settings}

    def describe(self, result, seconds):
        pages, chosen = result["pages"], result["settings"]
        fallbacks = sum(int(np.count_nonzero(np.isin(c, [_CODE["cache"], _CODE["default"], _CODE["degraded"]])))
                        for c in pages.source.values())
        return (f"{chosen['down']} down for {chosen['outage']} s from t = {OUTAGE[0]:g} s, cache TTL "
                f"{chosen['ttl']} s, queue capacity {chosen['capacity']}: {len(pages.time):,} pages, "
                f"{fallbacks:,} fallbacks served, {result['orders'].submissions:,} orders "
                f"(simulated in {seconds * 1000:.0f} ms)")


def panel() -> FallbackPanel:
    """The lesson's panel (see :class:`FallbackPanel`)."""
    return FallbackPanel()
