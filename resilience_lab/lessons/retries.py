"""Lesson 5: retries with exponential backoff, jitter and budgets.

Four experiments, each a function that returns numbers and one that plots them:

1. **Schedules**: the delays of no jitter, Full, Equal and Decorrelated Jitter
   over many seeded draws (:func:`plot_schedules`).
2. **Brooker's contention** (:func:`contention`, :func:`brooker_sweep`): clients
   that each write one row once, with optimistic concurrency: read the
   version, write if it has not changed, else back off and try again. Network
   delay ``|N(10 ms, 2 ms)|`` each way, base 5 ms, cap 2 s, 10 to 190 clients,
   backoff exponent from 1 as in his simulator (first delay from 10 ms).
   Counts the writes (calls) and the time until the last client is done.
3. **The thundering herd** (:func:`herd_world`): 500 requests fail together
   while a database is down; without jitter their retries stay together and hit
   the database at the same instant it recovers.
4. **What to retry, and amplification** (:func:`lookup_world`,
   :func:`chain_world`): retrying 404s costs load and buys nothing; retries at
   every layer of a chain multiply the load at the bottom (3 attempts at 4
   layers: 81x); a retry budget or retrying at one layer only bounds it.
"""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import simpy

from ..outcomes import Outcome
from ..patterns.retry import JITTERS, TRANSIENT, Backoff, Retry, RetryBudget
from ..patterns.timeout import Timeout
from ..figures.panel import Panel, slider
from ..figures.axes import fit_y
from ..figures.run import COLOURS, FAULT_COLOUR, figure_png
from ..world import CLIENT, LogNormal, World

LABELS = {"none": "no jitter", "full": "Full Jitter", "equal": "Equal Jitter", "decorrelated": "Decorrelated Jitter"}


class FunctionBackoff:
    """A backoff made of one function, for the exercise: ``scheme(retry, rng, base, cap)``,
    or ``scheme(previous, rng, base, cap)`` when ``decorrelated=True``."""

    def __init__(self, scheme, base, cap, decorrelated=False):
        self.scheme, self.base, self.cap, self.decorrelated = scheme, base, cap, decorrelated

    def delay(self, retry, rng, previous=None):
        if self.decorrelated:
            return self.scheme(self.base if previous is None else previous, rng, self.base, self.cap)
        return self.scheme(retry, rng, self.base, self.cap)


# -- 1. schedules ---------------------------------------------------------------
def sample_schedules(base=0.1, cap=5.0, retries=8, draws=300, seed=1):
    """``{jitter: array (draws, retries)}`` of seeded delays for each scheme."""
    out = {}
    for jitter in JITTERS:
        rng = random.Random(f"{seed}/{jitter}")
        backoff = Backoff(jitter, base, cap)
        out[jitter] = np.array([backoff.schedule(retries, rng) for _ in range(draws)])
    return out


def plot_schedules(base=0.1, cap=5.0, retries=8, draws=300, seed=1):
    """Each scheme's delay before retry 0, 1, 2, ...: every draw a dot, the cap dashed."""
    from matplotlib.figure import Figure
    samples = sample_schedules(base, cap, retries, draws, seed)
    fig = Figure(figsize=(10, 2.8), dpi=80, layout="constrained")
    axes = fig.subplots(1, len(JITTERS), sharey=True)
    spread = np.random.default_rng(seed).uniform(-0.25, 0.25, size=(draws, retries))
    for ax, (jitter, delays) in zip(axes, samples.items()):
        ax.scatter(np.arange(retries) + spread, delays, s=2, alpha=0.35, color=COLOURS[0])
        ax.axhline(cap, color="black", ls="--", lw=1)
        ax.set_title(LABELS[jitter], fontsize=10)
        ax.set_xlabel("retry number")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"delay (s)\nbase {base:g} s, cap {cap:g} s")
    return fig


# -- 2. Brooker's contention ----------------------------------------------------
def contention(clients, jitter, *, seed=0, base=0.005, cap=2.0, net=(0.010, 0.002), first_exponent=1):
    """One run of Brooker's simulation in SimPy: ``(calls, seconds)``.

    Every client reads the row's version, sends a write that succeeds only if
    the version is still the same, and on failure backs off with ``jitter``
    and starts over. Each message takes ``|N(net)|`` seconds. ``calls`` counts
    the writes of all clients; ``seconds`` is when the last client finished.

    ``first_exponent``: the exponent of the first backoff. Brooker's published
    simulator counts a failed attempt before it backs off, so its first delay is
    drawn from ``min(cap, base * 2**1)``; 1 (the default) matches it. With 0
    (the convention of :class:`~resilience_lab.patterns.retry.Backoff`, retry
    number 0 first), every delay is half as long. Decorrelated Jitter ignores
    the exponent.
    """
    env = simpy.Environment()
    rng = random.Random(f"contention/{clients}/{jitter}/{seed}")
    backoff = Backoff(jitter, base, cap)
    mean, sd = net
    gauss = rng.gauss
    row = {"version": 0, "calls": 0, "done": 0.0}

    def client():
        retry, previous = 0, None
        yield env.timeout(abs(gauss(mean, sd)))  # the read reaches the row
        while True:
            version = row["version"]
            yield env.timeout(abs(gauss(mean, sd)) + abs(gauss(mean, sd)))  # reply, then the write
            row["calls"] += 1
            won = row["version"] == version
            if won:
                row["version"] += 1
            yield env.timeout(abs(gauss(mean, sd)))  # the write's answer
            if won:
                row["done"] = max(row["done"], env.now)
                return
            previous = backoff.delay(retry + first_exponent, rng, previous)
            retry += 1
            yield env.timeout(previous + abs(gauss(mean, sd)))  # back off, then read again

    for _ in range(clients):
        env.process(client())
    env.run()
    return row["calls"], row["done"]


BROOKER_CLIENTS = (10, 40, 70, 100, 130, 160, 190)


def brooker_sweep(clients=BROOKER_CLIENTS, jitters=JITTERS, runs=5, progress=True, first_exponent=1):
    """Mean calls and completion time per number of clients, for each scheme.

    Returns ``{jitter: {"clients": array, "calls": array, "seconds": array}}``,
    each point the mean of ``runs`` seeded runs of :func:`contention` (with
    ``first_exponent``, 1 as in Brooker's simulator). Shows a progress bar.
    """
    from tqdm.auto import tqdm

    table = {j: {"clients": np.array(clients), "calls": [], "seconds": []} for j in jitters}
    steps = tqdm(total=len(clients) * len(jitters), desc="simulating", disable=not progress, leave=False)
    for n in clients:
        for jitter in jitters:
            runs_ = np.array([contention(n, jitter, seed=s, first_exponent=first_exponent) for s in range(runs)])
            table[jitter]["calls"].append(runs_[:, 0].mean())
            table[jitter]["seconds"].append(runs_[:, 1].mean())
            steps.update()
    steps.close()
    for row in table.values():
        row["calls"], row["seconds"] = np.array(row["calls"]), np.array(row["seconds"])
    return table


def at_clients(table, clients=100):
    """One row per scheme of a sweep at ``clients`` clients: mean calls and seconds."""
    rows = {}
    for jitter, row in table.items():
        i = int(np.nonzero(row["clients"] == clients)[0][0])
        rows[LABELS[jitter]] = {"calls": round(float(row["calls"][i])), "seconds": round(float(row["seconds"][i]), 1)}
    return rows


def plot_brooker(table):
    """Calls and completion time against the number of clients, one line per scheme."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 3.4), dpi=80, layout="constrained")
    ax_calls, ax_time = fig.subplots(1, 2)
    for i, (jitter, row) in enumerate(table.items()):
        style = dict(color=COLOURS[i], lw=2, marker="o", ms=3, label=LABELS[jitter])
        ax_calls.plot(row["clients"], row["calls"], **style)
        ax_time.plot(row["clients"], row["seconds"], **style)
    ax_calls.set_ylabel("calls (writes), all clients")
    ax_time.set_ylabel("time until all are done (s)")
    for ax in (ax_calls, ax_time):
        ax.set_xlabel("clients")
        ax.grid(True, alpha=0.3)
    ax_calls.legend(fontsize=8)
    return fig


# -- 3. the thundering herd -----------------------------------------------------
HERD_OUTAGE = (0.0, 1.0)


def herd_world(backoff, *, seed=2, requests_at=(0.0, 0.05), rate=10_000.0, outage=HERD_OUTAGE) -> World:
    """About 500 requests arrive in 50 ms while the database is down (``outage``,
    0 to 1 s by default); each retries up to 8 attempts with ``backoff`` (a
    :class:`Backoff` or anything with its ``delay`` method)."""
    world = World(seed=seed, sample_every=0.01)
    world.service("db", workers=1000, latency=0.005)
    world.load("db", rate=rate, start=requests_at[0], end=requests_at[1])
    world.protect(CLIENT, "db", Retry(max_attempts=8, backoff=backoff))
    world.inject_outage("db", start=outage[0], end=outage[1])
    return world


def arrivals_per_second(result, service, bucket=0.01, since=0.0):
    """(bucket starts, attempts per second reaching ``service``)."""
    n = int(math.ceil((result.until - since) / bucket))
    times = result.arrivals[service]
    counts = np.bincount(((times[times >= since] - since) // bucket).astype(int), minlength=n)[:n]
    return since + np.arange(n) * bucket, counts / bucket


def peak_after(result, service="db", since=HERD_OUTAGE[1], bucket=0.01) -> float:
    """The most attempts per second reaching ``service`` in any ``bucket`` after ``since``."""
    return float(arrivals_per_second(result, service, bucket, since)[1].max())


def plot_herd(runs: dict, bucket=0.01):
    """Attempts per second at the database over time, one panel per run, the outage shaded."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 1.9 * len(runs)), dpi=80, layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(runs), 1, sharex=True, sharey=True))
    for i, (ax, (title, result)) in enumerate(zip(axes, runs.items())):
        t, per_second = arrivals_per_second(result, "db", bucket)
        ax.plot(t, per_second, color=COLOURS[i], lw=1)
        ax.axvspan(*HERD_OUTAGE, color=FAULT_COLOUR, alpha=0.25, lw=0)
        ax.set_title(f"{title}: peak after recovery {peak_after(result):,.0f} attempts/s", fontsize=10, loc="left")
        ax.grid(True, alpha=0.3)
        ax.set_ylabel("attempts / s")
    axes[-1].set_xlabel("simulated time (s)   (shaded: the database is down)")
    return fig


# -- 4. what to retry, and amplification ----------------------------------------
def lookup_world(retry_on=TRANSIENT, *, seed=3) -> World:
    """Lookups in a catalog, 100 per second, up to 3 attempts retrying ``retry_on``.

    70 per second ask for items that exist: the catalog fails 5% of those calls
    with a 503 (busy), a transient error. 30 per second ask for items that were
    deleted: ``gone`` answers 404 every time, however often it is asked.
    """
    world = World(seed=seed)
    world.service("catalog", workers=100, latency=LogNormal(0.02), error_rate=0.05, error_status=503)
    world.service("gone", workers=100, latency=LogNormal(0.02), error_rate=1.0, error_status=404)
    world.load("catalog", rate=70)
    world.load("gone", rate=30)
    for target in ("catalog", "gone"):
        world.protect(CLIENT, target, Retry(3, Backoff("full", 0.01, 0.5), retry_on=retry_on))
    return world


CHAIN = ["A", "B", "C", "D"]
CHAIN_OUTAGE = (2.0, 8.0)


def chain_world(retries="every layer", *, budget=None, seed=5, rate=20.0) -> World:
    """client -> A -> B -> C -> D, D down from 2 s to 8 s, 3 attempts per retrying hop.

    ``retries``: ``"every layer"``, ``"client only"`` or ``"none"``. ``budget``:
    a :class:`RetryBudget` each retrying hop gets its own copy of.
    """
    if retries not in ("every layer", "client only", "none"):
        raise ValueError(f"retries must be 'every layer', 'client only' or 'none', got {retries!r}")
    world = World(seed=seed)
    for upper, lower in zip(["D", "C", "B", "A"], [None, "D", "C", "B"]):
        world.service(upper, workers=1000, latency=0.002, calls=[lower] if lower else [])
    world.load("A", rate=rate)
    hops = [(CLIENT, "A"), ("A", "B"), ("B", "C"), ("C", "D")]
    if retries == "client only":
        hops = hops[:1]
    if retries != "none":
        for caller, target in hops:
            own = copy.deepcopy(budget)  # one budget per caller, as in a real deployment
            world.protect(caller, target, Retry(3, Backoff("full", 0.01, 0.1), budget=own), Timeout(1.0))
    world.inject_outage("D", start=CHAIN_OUTAGE[0], end=CHAIN_OUTAGE[1])
    return world


def amplification(result, bottom="D", since=CHAIN_OUTAGE[0] + 1, until=CHAIN_OUTAGE[1]) -> float:
    """Attempts reaching ``bottom`` per client request, during ``[since, until)``."""
    times = result.arrivals[bottom]
    attempts = np.count_nonzero((times >= since) & (times < until))
    requests = np.count_nonzero(result.calls_to("A", CLIENT) & (result.start >= since) & (result.start < until))
    return attempts / max(requests, 1)


def plot_amplification(runs: dict, bucket=0.5):
    """Attempts per second reaching D over time, one line per run."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(9, 3.2), dpi=80, layout="constrained")
    ax = fig.subplots()
    for i, (title, result) in enumerate(runs.items()):
        t, per_second = arrivals_per_second(result, "D", bucket)
        ax.plot(t + bucket / 2, per_second, color=COLOURS[i], lw=2,
                label=f"{title} ({amplification(result):.1f}x)")
    ax.axvspan(*CHAIN_OUTAGE, color=FAULT_COLOUR, alpha=0.18, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("simulated time (s)   (shaded: D is down)")
    ax.set_ylabel("attempts / s reaching D")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(True, alpha=0.3)
    return fig


def lookup_report(result):
    """Per service: requests, attempts that reached it, and the share of requests that succeeded."""
    rows = {}
    for name in ("catalog", "gone"):
        mask = result.calls_to(name, CLIENT)
        requests = int(np.count_nonzero(mask))
        ok = int(np.count_nonzero(mask & (result.outcome == Outcome.OK)))
        attempts = len(result.arrivals[name])
        rows[name] = {"requests": requests, "attempts": attempts,
                      "attempts per request": round(attempts / requests, 2), "succeeded": f"{ok / requests:.1%}"}
    return rows


def budget_trace(budget_factory, *, rate=100, seconds=100, attempts=3):
    """Drive a retry budget through a long outage in which every attempt fails:
    ``rate`` requests per second for ``seconds``, each wanting ``attempts``
    attempts. Returns (request times, retry times) of what the budget allowed."""
    budget = budget_factory()
    requests, retries = [], []
    for i in range(int(rate * seconds)):
        now = i / rate
        budget.record_request(now)
        requests.append(now)
        for _ in range(attempts - 1):
            if not budget.try_retry(now):
                break
            retries.append(now)
    return np.array(requests), np.array(retries)


__all__ = [
    "FunctionBackoff", "RetryBudget", "amplification", "brooker_sweep", "chain_world", "contention",
    "herd_world", "lookup_world", "peak_after", "plot_amplification", "plot_brooker", "plot_herd",
    "plot_schedules", "sample_schedules",
]


# -- the panel -------------------------------------------------------------------
class HerdFigure:
    """Attempts per second at the database, the outage shaded; :meth:`update` moves the data."""

    def __init__(self, bucket=0.01):
        from matplotlib.figure import Figure
        self.bucket = bucket
        self.fig = Figure(figsize=(9, 3.2), dpi=80)
        self.fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.16)
        self.ax = self.fig.subplots()
        (self.line,) = self.ax.plot([], [], color=COLOURS[0], lw=1)
        self.shade = None
        self.ax.set_ylabel("attempts / s")
        self.ax.set_xlabel("simulated time (s)   (shaded: the database is down)")
        self.ax.grid(True, alpha=0.3)

    def update(self, result):
        outage = (result.faults[0].start, result.faults[0].end)  # the database's outage
        t, per_second = arrivals_per_second(result, "db", self.bucket)
        self.line.set_data(t, per_second)
        if self.shade is not None:
            self.shade.remove()
        self.shade = self.ax.axvspan(*outage, color=FAULT_COLOUR, alpha=0.25, lw=0)
        self.ax.set_xlim(0, result.until)
        fit_y(self.ax)
        self.ax.set_title(f"peak after recovery: {peak_after(result, since=outage[1]):,.0f} attempts/s",
                          fontsize=10, loc="left")
        return self.fig

    def png(self) -> bytes:
        return figure_png(self.fig)


class HerdPanel(Panel):
    """500 requests fail together while the database is down; pick the jitter
    and the outage's length, and watch when their retries arrive."""

    def __init__(self):
        import ipywidgets as widgets
        self.controls = {
            "jitter": widgets.ToggleButtons(options=[(LABELS[j], j) for j in JITTERS], value="none"),
            "outage": slider("outage (s)", value=1.0, min=0.2, max=2.5, step=0.1, integer=False),
        }
        self.figure = HerdFigure()
        super().__init__()

    def simulate(self, settings):
        outage = (0.0, settings["outage"])
        return herd_world(Backoff(settings["jitter"], 0.1, 5.0), outage=outage).run(outage[1] + 3.0)

    def describe(self, result, seconds):
        return (f"{len(result.arrivals['db']):,} attempts reached the database "
                f"(simulated in {seconds * 1000:.0f} ms)")


def panel() -> HerdPanel:
    """The lesson's panel (see :class:`HerdPanel`)."""
    return HerdPanel()
