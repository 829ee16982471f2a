"""Appendix: is the simulator right? Three checks against theory, with plots.

A simulator that teaches queueing must queue the way queueing theory says. This
module measures three agreements; ``tests/test_fidelity.py`` asserts them and the
appendix notebook plots them.

1. **M/M/c waiting time.** Poisson arrivals at rate ``lambda``, ``c`` workers,
   exponential work of mean ``1/mu``, one first-come-first-served queue. With
   offered load ``a = lambda / mu`` and utilisation ``rho = a / c < 1``, the
   Erlang C formula gives the probability that a call has to wait,

       C(c, a) = c * B / (c - a * (1 - B)),   B = Erlang B(c, a)
       (Erlang B by the recursion B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))),

   and its mean wait in the queue, ``Wq = C(c, a) / (c * mu - lambda)``.
2. **Little's law.** In a steady state, the mean number of calls inside a
   service equals their arrival rate times their mean time inside: ``L = lambda W``.
   Here ``L`` comes from the run's samples (busy workers plus queued calls) and
   ``lambda W`` from its call records: two independent bookkeepings of one run.
3. **Lesson 1's limit.** A pool of ``N`` workers, each held ``W`` seconds per
   call, finishes at most ``N / W`` calls per second, however much is offered.

And one case study that theory does not reduce to a formula: **overload
collapse** (:func:`metastable_world`), Bronson et al.'s retry storm, which the
simulator must reproduce qualitatively: it stays down after its trigger has
gone, and a retry budget prevents that.

A simulated mean is itself random, so each agreement comes with a confidence
interval from **batch means**: cut the run (after a warm-up) into ``batches``
consecutive pieces, take each piece's mean, and treat those means as roughly
independent; the interval is ``mean +- t(level, batches - 1) * sd / sqrt(batches)``.
Pieces must be long compared with how long the queue remembers its past, which
is why the runs near ``rho = 0.95`` are the longest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from scipy.special import stdtrit  # Student's t quantile; scipy.stats would cost 60 MB more

from ..outcomes import Outcome
from ..figures.run import COLOURS, FAULT_COLOUR
from ..patterns.retry import Backoff, Retry, RetryBudget
from ..patterns.timeout import Timeout
from ..world import CLIENT, Exponential, SlowerUnderLoad, World
from . import cascading


# -- theory -------------------------------------------------------------------
def erlang_c(c: int, a: float) -> float:
    """The probability that a call waits in an M/M/c queue with offered load ``a`` (< c)."""
    if not 0 <= a < c:
        raise ValueError(f"offered load a must be in [0, c={c}), got {a!r}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1.0 - b))


def mmc_wait(c: int, rho: float, mean_service: float = 1.0) -> float:
    """Erlang C's mean wait in the queue: ``C(c, a) / (c mu - lambda)``, ``a = rho c``."""
    mu = 1.0 / mean_service
    lam = rho * c * mu
    return erlang_c(c, rho * c) / (c * mu - lam)


def batch_means(values, batches: int = 10, level: float = 0.999):
    """(mean, half-width of its ``level`` confidence interval) by batch means."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 * batches:
        raise ValueError(f"need at least {2 * batches} values for {batches} batches, got {len(values)}")
    means = np.array([chunk.mean() for chunk in np.array_split(values, batches)])
    half = stdtrit(batches - 1, 0.5 + level / 2) * means.std(ddof=1) / math.sqrt(batches)
    return float(means.mean()), float(half)


@dataclass(frozen=True)
class Agreement:
    """A simulated figure, its confidence half-width, and what theory predicts."""

    simulated: float
    half_width: float
    predicted: float

    @property
    def agrees(self) -> bool:
        return abs(self.simulated - self.predicted) <= self.half_width


# -- 1. M/M/c --------------------------------------------------------------------
class RecordedExponential(Exponential):
    """Exponential work that also keeps every draw, in the order they were drawn."""

    def __init__(self, mean: float):
        super().__init__(mean)
        object.__setattr__(self, "drawn", [])

    def sample(self, rng):
        seconds = rng.expovariate(1.0 / self.mean)
        self.drawn.append(seconds)
        return seconds


def mmc_world(c: int, rho: float, *, mean_service: float = 1.0, seed: int = 1, loads: int = 1) -> World:
    """One service ``S`` with ``c`` workers and exponential work, Poisson load at ``rho * c * mu``.

    ``loads``: split that load into this many identical ``load()`` calls. Poisson
    streams add up to one Poisson stream of the summed rate, so the queue is the
    same M/M/c, provided each load draws its own arrivals.
    """
    world = World(seed=seed, sample_every=10.0 * mean_service)
    world.service("S", workers=c, latency=RecordedExponential(mean_service))
    for _ in range(loads):
        world.load("S", rate=rho * c / mean_service / loads)
    return world


#: Calls per M/M/c run by utilisation: the queue remembers longer as rho nears 1.
MMC_CALLS = {0.5: 8_000, 0.65: 10_000, 0.8: 16_000, 0.9: 25_000, 0.95: 40_000}


def mmc_agreement(c: int, rho: float, *, calls: int | None = None, warmup: float = 0.1,
                  batches: int = 10, level: float = 0.999, seed: int = 1, loads: int = 1) -> dict:
    """Simulated M/M/c waits against Erlang C (time unit: the mean work).

    Returns ``{"wait": Agreement, "p_wait": Agreement}``: the mean wait in the
    queue against ``C(c, a) / (c mu - lambda)``, and the share of calls that
    waited at all against ``C(c, a)``.

    Each call's wait is its time in the service minus its own work. The queue is
    first come, first served, so the k-th call to arrive is the k-th to get a
    worker and draws the k-th amount of work: the wait is measured exactly, not
    estimated. The first ``warmup`` share of the calls (the queue starting empty)
    is dropped. ``calls`` defaults to :data:`MMC_CALLS` for the nearest ``rho``;
    ``loads`` splits the arrivals over that many identical loads (see :func:`mmc_world`).
    """
    if calls is None:
        calls = MMC_CALLS[min(MMC_CALLS, key=lambda r: abs(r - rho))]
    world = mmc_world(c, rho, seed=seed, loads=loads)
    result = world.run(until=calls / (rho * c))
    drawn = np.array(world.services["S"].latency.drawn)
    order = np.argsort(result.start, kind="stable")
    unfinished = np.nonzero(result.outcome[order] == Outcome.UNFINISHED)[0]
    done = unfinished[0] if len(unfinished) else len(order)
    waits = (result.latency[order][:done] - drawn[:done])[int(warmup * done):]
    mean, half = batch_means(waits, batches, level)
    share, share_half = batch_means(waits > 1e-9, batches, level)
    return {
        "wait": Agreement(mean, half, mmc_wait(c, rho)),
        "p_wait": Agreement(share, share_half, erlang_c(c, rho * c)),
    }


def erlang_table(pools=(1, 4, 16), rhos=(0.5, 0.8, 0.9, 0.95), *, scale: float = 1.0,
                 seed: int = 1) -> dict:
    """``{c: {rho: mmc_agreement(...)}}`` for every pool size and utilisation;
    ``scale`` multiplies the run lengths of :data:`MMC_CALLS`."""
    table = {}
    for c in pools:
        table[c] = {}
        for rho in rhos:
            calls = int(scale * MMC_CALLS[min(MMC_CALLS, key=lambda r: abs(r - rho))])
            table[c][rho] = mmc_agreement(c, rho, calls=calls, seed=seed)
    return table


# -- 2. Little's law ---------------------------------------------------------------
def little_world(*, rate: float = 150.0, seed: int = 3, timeout: float | None = None) -> World:
    """Two services with real queues: the load calls A (8 workers), A calls B (4 workers).

    ``timeout``: if given, A stops waiting for B after that many seconds (B goes on).
    """
    world = World(seed=seed, sample_every=0.01)
    world.service("B", workers=4, latency=Exponential(0.02))
    world.service("A", workers=8, latency=Exponential(0.01), calls=["B"])
    world.load("A", rate=rate)
    if timeout is not None:
        world.protect("A", "B", Timeout(timeout))
    return world


def little_agreement(result, service: str, *, view: str = "caller", warmup: float = 5.0,
                     batches: int = 10, level: float = 0.999) -> Agreement:
    """``L`` (mean busy + queued, from the samples) against ``lambda W`` (from the records).

    The time after ``warmup`` is cut into ``batches`` windows, leaving the last
    5% of the run out so that the calls counted have (almost all) finished. In each
    window, ``L`` is the mean of the samples and ``lambda W`` the summed time in
    the service of the calls that arrived in it, divided by the window's length
    (the measured arrival rate times their mean time). The interval is on the
    per-window difference.

    ``view`` says whose records give each call's time: ``"caller"`` (the default:
    the call records, which end when the caller has its answer *or gives up*) or
    ``"callee"`` (the service's own visits, which end when the call leaves it).
    While every caller waits for its answers the two are the same. Once callers
    time out they are not: the caller's record ends at the timeout while the
    service keeps the call in its queue or at work, so the samples' ``L`` is
    larger than the caller's ``lambda W``. The law still holds, for the callee.
    """
    if view not in ("caller", "callee"):
        raise ValueError(f"view must be 'caller' or 'callee', got {view!r}")
    times, busy, queued, _ = result.pool(service)
    inside = busy + queued
    if view == "caller":
        calls = result.calls_to(service)
        start, latency = result.start[calls], result.latency[calls]
    else:
        visits = result.visits[service]
        start, latency = visits[:, 0], visits[:, 1] - visits[:, 0]
    edges = np.linspace(warmup, 0.95 * result.until, batches + 1)
    ls, lws = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        ls.append(inside[(times >= low) & (times < high)].mean())
        lws.append(latency[(start >= low) & (start < high)].sum() / (high - low))
    ls, lws = np.array(ls), np.array(lws)
    diff = ls - lws
    half = stdtrit(batches - 1, 0.5 + level / 2) * diff.std(ddof=1) / math.sqrt(batches)
    return Agreement(float(ls.mean()), float(half), float(lws.mean()))


# -- 3. Lesson 1: N workers, W seconds each --------------------------------------------
def worker_seconds(extra: float) -> float:
    """How long one of A's calls holds a worker in lesson 1's world when B is ``extra`` slower."""
    return 0.001 + cascading.mean_b_latency(extra)


def saturation_agreement(workers: int, extra: float, *, rate: float | None = None,
                         window: float = 20.0, seed: int = 7) -> Agreement:
    """A's throughput in :func:`~resilience_lab.lessons.cascading.saturation_world`
    while B is slow, against ``N / W``.

    B is slow from t = 1 s; A's completions are counted from t = 2 s for
    ``window`` seconds. With every worker busy throughout, each finishes its
    share of ``window / W`` calls give or take one (B's own latency varies by
    milliseconds, far less than a call over the window), so the count is within
    ``N`` of ``N window / W``: the half-width is ``N / window`` calls per second.
    ``rate`` (default: twice ``N / W``) is the load offered.
    """
    limit = workers / worker_seconds(extra)
    rate = 2 * limit if rate is None else rate
    world = cascading.saturation_world(rate=rate, workers=workers, b_extra=extra,
                                       fault=(1.0, 2.0 + window + 1.0), seed=seed, sample_every=1.0)
    result = world.run(until=2.0 + window)
    measured = cascading.measured_throughput(result, "A", since=2.0, until=2.0 + window)
    return Agreement(measured, workers / window, limit)


# -- 4. Overload collapse: a metastable failure --------------------------------------
#: The trigger: a network outage (no answer gets through) from 10 s to 20 s.
METASTABLE_OUTAGE = (10.0, 20.0)
#: Where the runs are judged: the last 20 s of a 60 s run, 20 s after the trigger ended.
METASTABLE_UNTIL, METASTABLE_AFTER = 60.0, 40.0


def metastable_world(*, budget: RetryBudget | None = None, slowdown: float = 10.0, rate: float = 280.0,
                     seed: int = 1, outage=METASTABLE_OUTAGE) -> World:
    """Bronson et al.'s retry storm (HotOS 2021), as a world.

    A database ``db`` of 30 workers does 0.1 s of work per query (300 queries a
    second at most), ``slowdown`` times longer while more than 60 queries wait
    (:class:`~resilience_lab.world.latency.SlowerUnderLoad`). Clients send
    ``rate`` queries a second (280: 93% busy), give up after 1 s and retry once,
    at once (1 ms later), within ``budget`` if one is given (a
    :class:`~resilience_lab.patterns.retry.RetryBudget`). The trigger: a network
    outage, ``outage`` = (start, end) in ``hang`` mode (``None``: no trigger).
    ``slowdown=1`` turns the load-dependent work off.
    """
    world = World(seed=seed, sample_every=0.25)
    work = SlowerUnderLoad(0.1, factor=slowdown, backlog=60)
    world.service("db", workers=30, latency=work)
    world.load("db", rate=rate)
    world.protect(CLIENT, "db", Retry(2, Backoff("none", 0.001, 0.001), budget=budget), Timeout(1.0))
    if outage is not None:
        world.inject_outage("db", mode="hang", start=outage[0], end=outage[1])
    return world


def metastable_runs(*, until: float = METASTABLE_UNTIL, seed: int = 1) -> dict:
    """The appendix's four runs of :func:`metastable_world`, ``{title: RunResult}``:
    no trigger; the trigger with one retry; the same without the slowdown; the
    trigger with a retry budget of 10% (over 10 s, no floor)."""
    worlds = {
        "no outage": metastable_world(outage=None, seed=seed),
        "outage, one retry": metastable_world(seed=seed),
        "outage, one retry, no slowdown": metastable_world(slowdown=1.0, seed=seed),
        "outage, 10% retry budget": metastable_world(budget=RetryBudget(0.1, 10.0, 0.0), seed=seed),
    }
    return {title: world.run(until) for title, world in worlds.items()}


@dataclass(frozen=True)
class LoadReport:
    """What a window of a :func:`metastable_world` run looked like, per second:
    requests the clients sent, attempts that reached the database (retries
    included: the offered load), ``ok`` answers the clients got (goodput), the
    share of the database's work done for clients that had given up, and its
    mean queue."""

    requests: float
    offered: float
    goodput: float
    wasted_share: float
    queued: float


def load_report(result, since: float = METASTABLE_AFTER, until: float | None = None) -> LoadReport:
    """A :class:`LoadReport` of ``result`` over ``[since, until)`` (default: to the end).

    Requests are counted by when they started, goodput by when the answer came,
    attempts by when they reached the database (its callee's view), wasted work
    by when each query left it."""
    until = result.until if until is None else until
    seconds = until - since
    requests = result.calls_to("db", CLIENT)
    inside = (result.start >= since) & (result.start < until)
    answered = (result.end >= since) & (result.end < until) & (result.outcome == Outcome.OK)
    attempts = result.arrivals["db"]
    visits = result.visits["db"]
    left = (visits[:, 1] >= since) & (visits[:, 1] < until)
    work = visits[left, 2].sum()
    times, _, queued, _ = result.pool("db")
    return LoadReport(
        requests=np.count_nonzero(requests & inside) / seconds,
        offered=np.count_nonzero((attempts >= since) & (attempts < until)) / seconds,
        goodput=np.count_nonzero(requests & answered) / seconds,
        wasted_share=float(visits[left, 3].sum() / work) if work else 0.0,
        queued=float(queued[(times >= since) & (times < until)].mean()),
    )


def metastable_rows(runs: dict, since: float = METASTABLE_AFTER) -> str:
    """The runs' :func:`load_report` after ``since`` as aligned text."""
    lines = [f"{'run':<32} {'requests/s':>10} {'offered/s':>10} {'goodput/s':>10} {'work wasted':>12} "
             f"{'queued':>8}"]
    for title, result in runs.items():
        r = load_report(result, since)
        lines.append(f"{title:<32} {r.requests:>10.0f} {r.offered:>10.0f} {r.goodput:>10.0f} "
                     f"{r.wasted_share:>12.0%} {r.queued:>8.0f}")
    return "\n".join(lines)


# -- the appendix's cases ------------------------------------------------------------
def erlang_rows(table: dict) -> str:
    """An :func:`erlang_table` as aligned text: predicted wait, simulated wait +- its interval."""
    lines = [f"{'c':>3} {'rho':>5} {'Erlang C wait':>14} {'simulated':>22} {'agrees':>7}"]
    for c, points in sorted(table.items()):
        for rho, measured in sorted(points.items()):
            w = measured["wait"]
            lines.append(f"{c:>3} {rho:>5.2f} {w.predicted:>14.4f} "
                         f"{f'{w.simulated:.4f} +- {w.half_width:.4f}':>22} {'yes' if w.agrees else 'NO':>7}")
    return "\n".join(lines)


def little_points(rates=(100.0, 150.0, 180.0), *, until: float = 30.0) -> dict:
    """Little's law for A and B of :func:`little_world` at each load: ``{label: Agreement}``."""
    points = {}
    for rate in rates:
        result = little_world(rate=rate).run(until=until)
        for service in ("A", "B"):
            points[f"{service} at {rate:g}/s"] = little_agreement(result, service)
    return points


def saturation_curves(pools=((50, 0.48), (20, 0.38)), shares=(0.25, 0.5, 0.8, 1.2, 2.0, 3.0),
                      *, window: float = 5.0) -> dict:
    """A's throughput at offered loads of ``shares`` times ``N / W``, for each ``(workers, extra)``."""
    curves = {}
    for workers, extra in pools:
        limit = workers / worker_seconds(extra)
        curves[(workers, extra)] = {
            round(share * limit): saturation_agreement(workers, extra, rate=round(share * limit), window=window)
            for share in shares
        }
    return curves


# -- plots -------------------------------------------------------------------------
def plot_erlang(results: dict, *, size=(10, 4.2)) -> Figure:
    """Left: simulated mean waits (dots) on the Erlang C curves (lines), log scale.
    Right: simulated / Erlang C with each interval; 1 is perfect agreement.

    ``results`` is an :func:`erlang_table`.
    """
    fig = Figure(figsize=size, dpi=80, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
    grid = np.linspace(0.3, 0.965, 200)
    pools = sorted(results)
    for i, c in enumerate(pools):
        colour = COLOURS[i % len(COLOURS)]
        rhos = sorted(results[c])
        waits = [results[c][r]["wait"] for r in rhos]
        left.plot(grid, [mmc_wait(c, r) for r in grid], color=colour, lw=1.5, label=f"Erlang C, c = {c}")
        left.plot(rhos, [w.simulated for w in waits], "o", color=colour, ms=5, label=f"simulated, c = {c}")
        shift = (i - (len(pools) - 1) / 2) * 0.008
        right.errorbar([r + shift for r in rhos], [w.simulated / w.predicted for w in waits],
                       yerr=[w.half_width / w.predicted for w in waits], fmt="o", color=colour, ms=5,
                       capsize=3, label=f"c = {c}")
    left.set_yscale("log")
    left.set_xlabel("utilisation ρ = λ / (c μ)")
    left.set_ylabel("mean wait in the queue\n(unit: the mean work)")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8, ncols=2)
    right.axhline(1.0, color="black", lw=1, ls="--")
    right.set_xlabel("utilisation ρ")
    right.set_ylabel("simulated / Erlang C\n(bars: 99.9% interval)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=8)
    return fig


def plot_little(points: dict, *, size=(5.2, 4.4)) -> Figure:
    """``L`` from the samples against ``lambda W`` from the records, one dot per case.

    ``points`` maps a label to an :class:`Agreement` (simulated = L, predicted = lambda W).
    """
    fig = Figure(figsize=size, dpi=80, layout="constrained")
    ax = fig.subplots()
    top = max(max(p.simulated, p.predicted) for p in points.values()) * 1.1
    ax.plot([0, top], [0, top], color="black", lw=1, ls="--", label="L = λW")
    for i, (label, p) in enumerate(points.items()):
        ax.errorbar([p.predicted], [p.simulated], yerr=[p.half_width], fmt="o", ms=6, capsize=3,
                    color=COLOURS[i % len(COLOURS)], label=label)
    ax.set_xlabel("λ W: arrival rate × mean time inside (records)")
    ax.set_ylabel("L: mean calls inside (samples)")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_metastable(runs: dict, *, bucket: float = 1.0, size=(10, 6.6)) -> Figure:
    """Each :func:`metastable_runs` run over time, the outage shaded: attempts
    reaching the database per second (top; dotted: the requests the clients
    send), ``ok`` answers per second (middle), and the database's queue (bottom)."""
    fig = Figure(figsize=size, dpi=80, layout="constrained")
    offered, good, queue = fig.subplots(3, 1, sharex=True)
    for i, (title, result) in enumerate(runs.items()):
        colour = COLOURS[i % len(COLOURS)]
        mid = np.arange(int(np.ceil(result.until / bucket))) * bucket + bucket / 2
        offered.plot(mid, result.callee("db", bucket).arrivals, color=colour, lw=2, label=title)
        good.plot(mid, result.summary("db", bucket, caller=CLIENT).goodput, color=colour, lw=2)
        times, _, queued, _ = result.pool("db")
        queue.plot(times, queued, color=colour, lw=1.5)
    first = next(iter(runs.values()))
    sent = first.summary("db", bucket, caller=CLIENT).started
    offered.plot(mid, sent, color="black", lw=1, ls=":", label="requests the clients send")
    outages = {(f.start, min(f.end, r.until)) for r in runs.values() for f in r.faults}
    for ax in (offered, good, queue):
        for start, end in outages:
            ax.axvspan(start, end, color=FAULT_COLOUR, alpha=0.18, lw=0)
        ax.grid(True, alpha=0.3)
    offered.set_ylabel("attempts / s\nreaching the database")
    good.set_ylabel("ok answers / s\n(goodput)")
    queue.set_ylabel("queries waiting")
    queue.set_yscale("symlog", linthresh=10)
    queue.set_ylim(bottom=0)
    queue.axhline(60, color="black", lw=0.8, ls="--")
    queue.text(0.3, 60, "above 60 waiting, work takes ten times longer", va="bottom", fontsize=8)
    queue.set_xlabel("simulated time (s)   (shaded: the network outage, the trigger)")
    fig.legend(*offered.get_legend_handles_labels(), loc="outside upper center", ncols=3, fontsize=8,
               frameon=False)
    return fig


def plot_saturation(curves: dict, *, size=(8.5, 4.0)) -> Figure:
    """Measured throughput against offered load, with each pool's ``N / W`` limit.

    ``curves`` maps ``(workers, extra)`` to ``{offered rate: Agreement}``.
    """
    fig = Figure(figsize=size, dpi=80, layout="constrained")
    ax = fig.subplots()
    top = 0.0
    for i, ((workers, extra), points) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        rates = sorted(points)
        limit = workers / worker_seconds(extra)
        ax.plot(rates, [min(r, limit) for r in rates], color=colour, lw=1, ls="--")
        ax.axhline(limit, color=colour, lw=0.8, alpha=0.5)
        ax.plot(rates, [points[r].simulated for r in rates], "o-", color=colour, ms=5,
                label=f"N = {workers}, W = {worker_seconds(extra):.2f} s: N/W = {limit:.0f}/s")
        top = max(top, *rates)
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls=":", label="throughput = offered load")
    ax.set_xlabel("offered load (requests / s)")
    ax.set_ylabel("A's throughput while B is slow (calls / s)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig
