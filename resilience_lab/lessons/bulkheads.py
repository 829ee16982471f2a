"""Lesson 4: bulkheads.

The source lesson's example: a service calls two dependencies, **payment** and
**profile**, from one pool of 100 worker threads. Payment hangs (a black hole)
and each call to it holds a thread until its 1 s timeout. Payment alone is
called 150 times a second, so it needs 150 threads and the pool has 100: every
thread ends up waiting on payment and calls to profile, which is perfectly
healthy, wait in line behind them.

Partition the pool (a bulkhead per dependency, 20 permits each) and payment can
fill only its own 20 permits: its extra calls are rejected at once, and profile
never notices.

The pool is modelled as a :class:`~resilience_lab.patterns.bulkhead.Bulkhead`
on the client's calls: ``Bulkhead(100, max_wait=math.inf)`` is a thread pool
with an unbounded queue; the same object on both routes is one shared pool.
"""

from __future__ import annotations

import math

import numpy as np

from ..outcomes import Outcome
from ..figures.axes import fit_y, shade_faults
from ..figures.panel import Panel, slider
from ..patterns.bulkhead import Bulkhead
from ..patterns.timeout import Timeout
from ..figures.run import COLOURS, figure_png
from ..world import CLIENT, LogNormal, World
from ..world.bulkhead_policy import BulkheadPolicy

PAYMENT_RATE, PROFILE_RATE = 150.0, 200.0
PAYMENT_LATENCY = LogNormal(median=0.050, sigma=0.25)
PROFILE_LATENCY = LogNormal(median=0.020, sigma=0.25)
#: Every call gives up after 1 s (lesson 2's timeout).
TIMEOUT = 1.0
#: Payment hangs during this window.
FAULT = (5.0, 15.0)
UNTIL = 20.0
SERVICES = ["payment", "profile"]


def shop_world(payment_pool, profile_pool, *, fault=FAULT, through=None, seed=4, mode="hang",
               trace=False) -> World:
    """The client calls payment (150/s) and profile (200/s); each route holds a
    permit of its pool while it waits (at most 1 s) for the answer.

    ``payment_pool`` and ``profile_pool`` are bulkhead cores; pass the same
    object twice for one shared pool. ``through`` replaces the call path
    (:func:`~resilience_lab.patterns.bulkhead.call_with_bulkhead`) for pools
    that reject at once. ``fault``: payment hangs during ``(start, end)``, or
    ``None`` for a healthy run; ``mode="fail"`` makes it refuse instead, and a
    number of seconds makes it that much slower instead. ``trace=True`` records
    each pool's permits in use (see :func:`permits_in_use`).
    """
    world = World(seed=seed, sample_every=0.1)
    world.service("payment", workers=1000, latency=PAYMENT_LATENCY)
    world.service("profile", workers=1000, latency=PROFILE_LATENCY)
    world.load("payment", rate=PAYMENT_RATE)
    world.load("profile", rate=PROFILE_RATE)
    shared = payment_pool is profile_pool
    for target, pool in (("payment", payment_pool), ("profile", profile_pool)):
        guard = BulkheadPolicy(pool, through) if through is not None else pool
        inside = [PermitTrace(pool, "shared" if shared else target)] if trace else []
        world.protect(CLIENT, target, guard, *inside, Timeout(TIMEOUT))
    if fault and isinstance(mode, str):
        world.inject_outage("payment", mode=mode, start=fault[0], end=fault[1])
    elif fault:
        world.inject_latency("payment", float(mode), start=fault[0], end=fault[1])
    return world


class PermitTrace:
    """A policy put just inside a bulkhead: records the pool's permits in use, as the
    run's events ``(time, pool_name, "permits", in_use)``, when a call takes a permit
    and when it gives it back. A policy of this lesson's figures, not a pattern."""

    def __init__(self, pool, name):
        self.pool, self.name = pool, name

    def wrap(self, run, caller, target, call):
        env, events, pool, name = run.env, run.events, self.pool, self.name

        def traced(ctx):
            events.append((env.now, name, "permits", pool.in_use))
            try:
                return (yield from call(ctx))
            finally:
                events.append((env.now, name, "permits", pool.in_use - 1))

        return traced


def permits_in_use(result, name, *, every=0.1):
    """(times, most permits in use) of pool ``name`` in each ``every``-second slot of a
    run made with ``trace=True``; the pools are named ``shared``, ``payment``, ``profile``."""
    trace = np.array([(t, n) for t, where, what, n in result.events if where == name and what == "permits"])
    slots = max(1, int(np.ceil(result.until / every - 1e-9)))
    peak = np.zeros(slots)
    if len(trace):
        np.maximum.at(peak, np.minimum((trace[:, 0] // every).astype(int), slots - 1), trace[:, 1])
        # What a slot starts with: the value after the last change before it.
        last = np.searchsorted(trace[:, 0], np.arange(slots) * every, side="left") - 1
        peak = np.maximum(peak, np.where(last >= 0, trace[np.maximum(last, 0), 1], 0.0))
    return np.arange(slots) * every, peak


def shared_world(*, fault=FAULT, seed=4) -> World:
    """One pool of 100 threads with an unbounded queue for both dependencies."""
    pool = Bulkhead(100, max_wait=math.inf)
    return shop_world(pool, pool, fault=fault, seed=seed)


def partitioned_world(payment=20, profile=20, *, max_wait=0.0, fault=FAULT, seed=4) -> World:
    """A bulkhead per dependency: ``payment`` and ``profile`` permits, each
    rejecting at once (``max_wait=0``) or after waiting ``max_wait`` seconds."""
    return shop_world(Bulkhead(payment, max_wait), Bulkhead(profile, max_wait), fault=fault, seed=seed)


# -- measurements ---------------------------------------------------------------
def calls(result, service, since=FAULT[0] + 1, until=FAULT[1]):
    """Mask of the client's calls to ``service`` that ended in ``[since, until)``."""
    mask = result.calls_to(service, CLIENT)
    return mask & (result.end >= since) & (result.end < until) & (result.outcome != Outcome.UNFINISHED)


def p99(result, service, since=FAULT[0] + 1, until=FAULT[1]) -> float:
    """The p99 latency (s) of the client's calls to ``service`` that ended in the window."""
    mask = calls(result, service, since, until)
    return float(np.percentile(result.latency[mask], 99)) if mask.any() else math.nan


def success_rate(result, service, since=FAULT[0] + 1, until=FAULT[1]) -> float:
    """The share of those calls that were ``ok``."""
    mask = calls(result, service, since, until)
    return float(np.mean(result.outcome[mask] == Outcome.OK)) if mask.any() else math.nan


def rejections(result, service, since=FAULT[0] + 1, until=FAULT[1]):
    """(how many calls to ``service`` were rejected, their slowest rejection in s;
    0.0 when none was)."""
    mask = calls(result, service, since, until) & (result.outcome == Outcome.REJECTED)
    slowest = float(result.latency[mask].max()) if mask.any() else 0.0
    return int(np.count_nonzero(mask)), slowest


def report(result, since=FAULT[0] + 1, until=FAULT[1]):
    """A heading naming the time window, then one line per service: p99, success
    rate, and how many calls were rejected and how long the slowest rejection took."""
    lines = [f"the client's calls that ended between t = {since:g} s and {until:g} s "
             f"(payment is down from {FAULT[0]:g} s to {FAULT[1]:g} s):"]
    for name in SERVICES:
        count, slowest = rejections(result, name, since, until)
        rejected = f"rejected {count:5d}" + (f", the slowest after {slowest * 1000:.0f} ms" if count else "")
        lines.append(f"  {name:8} p99 {p99(result, name, since, until) * 1000:7.0f} ms   "
                     f"ok {success_rate(result, name, since, until):6.1%}   {rejected}")
    return print("\n".join(lines))


def littles_law_size(rate, latency) -> float:
    """Permits busy on average: ``rate * latency`` (Little's law, L = λ·W)."""
    return rate * latency


# -- figures --------------------------------------------------------------------
def plot_compare(runs: dict, *, bucket=1.0):
    """Side by side, one column per run (``{"title": result}``): p99 latency and
    failed calls per second of payment and profile, the fault shaded."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(4.6 * len(runs), 5.2), dpi=80, layout="constrained")
    axes = fig.subplots(2, len(runs), sharex=True, sharey="row", squeeze=False)
    for column, (title, result) in enumerate(runs.items()):
        top, bottom = axes[0, column], axes[1, column]
        for i, name in enumerate(SERVICES):
            s = result.summary(name, bucket, caller=CLIENT)
            mid = s.time + bucket / 2
            top.plot(mid, s.p99, color=COLOURS[i], lw=2, label=name)
            rejected = _per_bucket(result, name, Outcome.REJECTED, bucket)
            failed = s.throughput - s.goodput
            bottom.plot(mid, failed, color=COLOURS[i], lw=2, label=f"{name} failed")
            bottom.plot(mid, rejected, color=COLOURS[i], lw=1, ls=":", label=f"{name} rejected")
        shade_faults((top, bottom), result.faults, result.until)
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        top.set_title(title)
        bottom.set_xlabel("simulated time (s)")
    axes[0, 0].set_ylabel("p99 latency (s)")
    axes[1, 0].set_ylabel("failed calls / s\n··· of which rejected")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    return fig


def plot_rejection_latency(runs: dict):
    """How long payment's rejected calls took, per run: a histogram in ms."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 2.8), dpi=80, layout="constrained")
    ax = fig.subplots()
    for i, (title, result) in enumerate(runs.items()):
        mask = calls(result, "payment") & (result.outcome == Outcome.REJECTED)
        ax.hist(result.latency[mask] * 1000, bins=np.linspace(0, 1100, 45), color=COLOURS[i], alpha=0.6, label=title)
    ax.set_xlabel("time until payment's call was rejected (ms)")
    ax.set_ylabel("calls")
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig


def _per_bucket(result, service, outcome, bucket):
    n = max(1, int(np.ceil(result.until / bucket - 1e-9)))
    mask = result.calls_to(service, CLIENT) & (result.outcome == outcome)
    slots = np.minimum((result.end[mask] // bucket).astype(int), n - 1)
    return np.bincount(slots, minlength=n) / bucket


# -- the panel -------------------------------------------------------------------
class BulkheadFigure:
    """One shared pool (left) against a bulkhead per dependency (right), on the same
    load and fault. Rows: p99 latency of the client's calls to payment and profile;
    their ``ok`` answers per second; each pool's permits in use, as a share of it."""

    COLUMNS = ("shared", "partitioned")

    # 1 s buckets: with payment hanging, a partition's permits time out together
    # once a second, and a shorter bucket would hold only instant rejections.
    def __init__(self, *, bucket=1.0):
        from matplotlib.figure import Figure
        self.bucket = bucket
        self.fig = Figure(figsize=(10, 6.6), dpi=80)
        self.fig.subplots_adjust(left=0.09, right=0.98, top=0.89, bottom=0.08, hspace=0.14, wspace=0.1)
        self.axes = self.fig.subplots(3, 2, sharex=True, sharey="row")
        self.lines = {}
        for column, kind in enumerate(self.COLUMNS):
            latency, answers, permits = self.axes[:, column]
            for i, name in enumerate(SERVICES):
                self.lines[kind, name] = (latency.plot([], [], color=COLOURS[i], lw=2, label=name)[0],
                                          answers.plot([], [], color=COLOURS[i], lw=2, label=name)[0])
            pools = ["shared"] if kind == "shared" else SERVICES
            for i, pool in enumerate(pools):
                colour = "#555555" if pool == "shared" else COLOURS[i]
                self.lines[kind, "permits", pool] = permits.plot([], [], color=colour, lw=2,
                                                                 drawstyle="steps-post")[0]
            permits.set_ylim(0, 105)
            permits.yaxis.set_major_formatter("{x:.0f}%")
            permits.set_xlabel("simulated time (s)")
            for ax in self.axes[:, column]:
                ax.grid(True, alpha=0.3)
        self.axes[0, 0].set_ylabel("p99 latency (s)")
        self.axes[1, 0].set_ylabel("ok answers / s")
        self.axes[2, 0].set_ylabel("permits in use")
        self.fig.legend([self.lines["shared", name][0] for name in SERVICES], SERVICES, loc="upper center",
                        ncols=2, fontsize=9, frameon=False)
        self._dynamic = []

    def update(self, runs):
        """Show ``runs``: ``{"shared": (result, pool size), "partitioned": (result, (payment, profile))}``."""
        for artist in self._dynamic:
            artist.remove()
        self._dynamic = []
        for column, kind in enumerate(self.COLUMNS):
            result, sizes = runs[kind]
            for name in SERVICES:
                s = result.summary(name, self.bucket, caller=CLIENT)
                latency, answers = self.lines[kind, name]
                latency.set_data(s.time + self.bucket / 2, np.where(s.p99 > 0, s.p99, np.nan))
                answers.set_data(s.time + self.bucket / 2, s.goodput)
            pools = {"shared": sizes} if kind == "shared" else dict(zip(SERVICES, sizes))
            labels = []
            for pool, size in pools.items():
                times, peak = permits_in_use(result, pool)
                self.lines[kind, "permits", pool].set_data(times, 100.0 * peak / size)
                labels.append(f"{size} threads" if pool == "shared" else f"{pool} {size} permits")
            self.axes[0, column].set_title(
                f"one pool of {sizes} threads for both" if kind == "shared"
                else f"a bulkhead each: payment {sizes[0]}, profile {sizes[1]}", fontsize=10)
            self._dynamic.append(self.axes[2, column].text(
                0.01, 0.95, ", ".join(labels), transform=self.axes[2, column].transAxes,
                va="top", fontsize=8, color="#333333", bbox={"facecolor": "white", "alpha": 0.7, "lw": 0}))
            self._dynamic += shade_faults(self.axes[:, column], result.faults, result.until,
                                          label_ax=self.axes[0, column])
        fit_y(self.axes[0], log=True, decades=1)
        fit_y(self.axes[1])
        self.axes[2, 0].set_xlim(0, UNTIL)
        return self.fig

    def png(self) -> bytes:
        return figure_png(self.fig)


class BulkheadPanel(Panel):
    """The lesson's world twice, side by side: one shared pool of threads, and a
    bulkhead per dependency (rejecting at once). Choose what payment does from
    t = 5 s to 15 s, size the pools, and watch profile's lines in each."""

    FAULTS = (("payment hangs", "hang"), ("payment is slow", "slow"), ("payment refuses", "fail"),
              ("no fault", "none"))

    def __init__(self):
        import ipywidgets as widgets
        self.controls = {
            "fault": widgets.ToggleButtons(options=self.FAULTS, value="hang"),
            "payment": slider("bulkhead: payment permits", value=20, min=1, max=100),
            "profile": slider("bulkhead: profile permits", value=20, min=1, max=100),
            "threads": slider("shared pool: threads", value=100, min=10, max=300, step=10),
            "slow_ms": slider("when slow: payment's extra latency (ms)", value=800, min=0, max=2000, step=50),
        }
        self.figure = BulkheadFigure()
        self._runs = {}  # side -> (its fault and sizes, its run)
        super().__init__()

    def simulate(self, settings):
        fault = settings["fault"]
        mode = settings["slow_ms"] / 1000 if fault == "slow" else fault
        window = None if fault == "none" or (fault == "slow" and not mode) else FAULT
        threads, parts = settings["threads"], (settings["payment"], settings["profile"])
        return {"shared": (self._side_run("shared", threads, window, mode), threads),
                "partitioned": (self._side_run("partitioned", parts, window, mode), parts)}

    def _side_run(self, side, sizes, window, mode):
        """The run of one side (``"shared"``: ``sizes`` threads; ``"partitioned"``: ``(payment,
        profile)`` permits), kept while its fault and sizes stay: moving the other side's
        slider reuses it."""
        key = (window, mode, sizes)
        if self._runs.get(side, (None,))[0] != key:
            if side == "shared":
                pool = Bulkhead(sizes, max_wait=math.inf)
                pools = (pool, pool)  # one pool for both routes
            else:
                pools = (Bulkhead(sizes[0]), Bulkhead(sizes[1]))
            self._runs[side] = (key, shop_world(*pools, fault=window, mode=mode, trace=True).run(UNTIL))
        return self._runs[side][1]

    def describe(self, runs, seconds):
        since, until = FAULT[0] + 1, FAULT[1]
        shared, partitioned = runs["shared"][0], runs["partitioned"][0]
        return (f"profile's calls ending between t = {since:g} s and {until:g} s: "
                f"p99 {p99(shared, 'profile', since, until) * 1000:,.0f} ms and "
                f"{success_rate(shared, 'profile', since, until):.0%} ok with the shared pool; "
                f"p99 {p99(partitioned, 'profile', since, until) * 1000:,.0f} ms and "
                f"{success_rate(partitioned, 'profile', since, until):.0%} ok with bulkheads "
                f"(simulated in {seconds * 1000:.0f} ms)")


def panel() -> BulkheadPanel:
    """The lesson's panel (see :class:`BulkheadPanel`)."""
    return BulkheadPanel()
