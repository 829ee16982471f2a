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
from ..figures.panel import FaultPanel
from ..patterns.bulkhead import Bulkhead
from ..patterns.timeout import Timeout
from ..figures.run import COLOURS, FAULT_COLOUR
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


def shop_world(payment_pool, profile_pool, *, fault=FAULT, through=None, seed=4) -> World:
    """The client calls payment (150/s) and profile (200/s); each route holds a
    permit of its pool while it waits (at most 1 s) for the answer.

    ``payment_pool`` and ``profile_pool`` are bulkhead cores; pass the same
    object twice for one shared pool. ``through`` replaces the call path
    (:func:`~resilience_lab.patterns.bulkhead.call_with_bulkhead`) for pools
    that reject at once. ``fault``: payment hangs during ``(start, end)``, or
    ``None`` for a healthy run.
    """
    world = World(seed=seed, sample_every=0.1)
    world.service("payment", workers=1000, latency=PAYMENT_LATENCY)
    world.service("profile", workers=1000, latency=PROFILE_LATENCY)
    world.load("payment", rate=PAYMENT_RATE)
    world.load("profile", rate=PROFILE_RATE)
    for target, pool in (("payment", payment_pool), ("profile", profile_pool)):
        guard = BulkheadPolicy(pool, through) if through is not None else pool
        world.protect(CLIENT, target, guard, Timeout(TIMEOUT))
    if fault:
        world.inject_outage("payment", mode="hang", start=fault[0], end=fault[1])
    return world


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
    """(how many calls to ``service`` were rejected, their slowest rejection in s)."""
    mask = calls(result, service, since, until) & (result.outcome == Outcome.REJECTED)
    slowest = float(result.latency[mask].max()) if mask.any() else 0.0
    return int(np.count_nonzero(mask)), slowest


def report(result, since=FAULT[0] + 1, until=FAULT[1]):
    """One line per service: p99, success rate, rejections, while payment is down."""
    lines = []
    for name in SERVICES:
        count, slowest = rejections(result, name, since, until)
        lines.append(f"{name:8} p99 {p99(result, name, since, until) * 1000:7.0f} ms   "
                     f"ok {success_rate(result, name, since, until):6.1%}   "
                     f"rejected {count:5d} (slowest {slowest * 1000:.0f} ms)")
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
        for ax in (top, bottom):
            for fault in result.faults:
                ax.axvspan(fault.start, min(fault.end, result.until), color=FAULT_COLOUR, alpha=0.18, lw=0)
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


def panel() -> FaultPanel:
    """Partitioned pools (20 and 20): slow payment down or take it out, and watch profile."""
    world = partitioned_world(fault=None)
    return FaultPanel(world, until=UNTIL, window=FAULT, controls={"payment": ["latency", "outage"]},
                      load=False, services=SERVICES, title="client → payment, client → profile, 20 permits each")
