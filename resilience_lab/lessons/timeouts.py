"""Lesson 2: timeouts.

Three worlds:

- :func:`slow_b_world`: lesson 1's cascade (client -> C -> A -> B, B slowed from
  about 20 ms to about 500 ms between t = 10 s and t = 20 s), with or without a
  timeout on A's calls to B.
- :func:`outage_world`: load -> A -> B with B healthy, or hanging during an
  outage; the trade-off of a timeout's value is measured on it.
- :func:`hops_world`: load -> A -> B -> C, where C loses most of its workers for
  10 s. Each hop has its own timeout (A gives B 500 ms, B gives C 400 ms), or the
  same budgets as deadlines that travel with the request and shrink.

Choosing a timeout: the source lesson's rule is the dependency's normal p99
times 2 to 3. The AWS Builders' Library picks it from an acceptable rate of
*false* timeouts (calls that would have succeeded): a 0.1% budget means the
p99.9 of normal latency. :func:`~resilience_lab.patterns.deadline.choose_timeout`
does that on samples; the trade-off against the workers a hung dependency holds
(``rate x timeout``, by Little's law) is :func:`tradeoff`.
"""

from __future__ import annotations

import math

import numpy as np

from ..outcomes import Outcome
from ..figures.axes import plain_log_ticks
from ..figures.panel import Panel, slider
from ..figures.run import RunFigure
from ..patterns.deadline import Deadline
from ..patterns.timeout import Timeout
from ..world import World
from . import cascading
from .measure import mean_busy, p99, peak_busy, recovered_at  # noqa: F401  (the lesson uses them as lesson.*)

B_LATENCY = cascading.B_LATENCY  # LogNormal, median 20 ms
RATE, A_WORKERS = 150.0, 50
#: The lesson's timeout for A's calls to B: about 2.5 x B's normal p99.
TIMEOUT = 0.1
OUTAGE = (5.0, 15.0)


def slow_b_world(timeout=None, **options) -> World:
    """Lesson 1's cascade world, with ``timeout`` seconds (or a policy) on A's calls to B."""
    world = cascading.cascade_world(**options)
    if timeout is not None:
        world.protect("A", "B", Timeout(timeout) if isinstance(timeout, (int, float)) else timeout)
    return world


def outage_world(policy=None, *, hang=True, outage=OUTAGE, rate=RATE, workers=A_WORKERS, b_latency=B_LATENCY,
                 b_error_rate=0.0, seed=11, sample_every=0.05) -> World:
    """load -> A -> B; B hangs during ``outage`` (``hang=False``: stays healthy).

    ``policy``: seconds (a :class:`Timeout`) or any policy on A's calls to B.
    """
    world = World(seed=seed, sample_every=sample_every)
    world.service("B", workers=400, latency=b_latency, error_rate=b_error_rate)
    world.service("A", workers=workers, latency=0.001, calls=["B"])
    world.load("A", rate=rate)
    if hang and outage:
        world.inject_outage("B", mode="hang", start=outage[0], end=outage[1])
    if policy is not None:
        world.protect("A", "B", Timeout(policy) if isinstance(policy, (int, float)) else policy)
    return world


def latency_samples(n=5000, seed=11):
    """``n`` latencies (s) of A's calls to a healthy B, as A measured them."""
    world = outage_world(hang=False, rate=RATE, seed=seed)
    result = world.run(until=n / RATE * 1.2 + 1)
    mask = result.calls_to("B") & (result.outcome == Outcome.OK)
    return result.latency[mask][:n]


def false_timeout_share(result, caller="A", target="B", since=0.0, until=math.inf):
    """Share of ``caller``'s finished calls to ``target`` in ``[since, until)`` that timed out."""
    mask = result.calls_to(target, caller) & (result.outcome != Outcome.UNFINISHED)
    mask &= (result.start >= since) & (result.start < until)
    return float(np.mean(result.outcome[mask] == Outcome.TIMEOUT)) if mask.any() else math.nan


def tradeoff(timeouts=(0.02, 0.025, 0.03, 0.04, 0.06, 0.1, 0.2, 0.35, 0.6, 1.0), samples=None):
    """For each timeout: the false-timeout share predicted from ``samples`` and measured on a
    healthy day, and the share of A's workers held while B hangs, predicted by Little's law
    (``min(1, rate x timeout / workers)``) and measured.

    Returns a dict of numpy arrays: ``timeout``, ``false_predicted``, ``false_measured``,
    ``held_predicted``, ``held_measured``.
    """
    samples = latency_samples() if samples is None else np.asarray(samples)
    out = {k: [] for k in ("timeout", "false_predicted", "false_measured", "held_predicted", "held_measured")}
    for t in timeouts:
        healthy = outage_world(t, hang=False).run(until=8)
        down = outage_world(t, outage=(2.0, 8.0)).run(until=8)
        out["timeout"].append(t)
        out["false_predicted"].append(float(np.mean(samples > t)))
        out["false_measured"].append(false_timeout_share(healthy))
        out["held_predicted"].append(min(1.0, RATE * t / A_WORKERS))
        out["held_measured"].append(mean_busy(down, "A", 4.0, 8.0))
    return {k: np.asarray(v) for k, v in out.items()}


def plot_tradeoff(data=None, *, budget=0.001, samples=None):
    """The trade-off as the timeout varies: false timeouts (left) against workers held (right)."""
    from matplotlib.figure import Figure

    from ..patterns.deadline import choose_timeout

    samples = latency_samples() if samples is None else np.asarray(samples)
    data = tradeoff(samples=samples) if data is None else data
    grid = np.geomspace(data["timeout"].min(), data["timeout"].max(), 200)
    fig = Figure(figsize=(8.5, 4.9), dpi=80, layout="constrained")
    ax = fig.subplots()
    ax.plot(grid, [100 * np.mean(samples > t) for t in grid], color="#1f77b4", lw=2,
            label="false timeouts on a healthy day (from samples)")
    ax.plot(data["timeout"], 100 * data["false_measured"], "o", color="#1f77b4", label="… measured")
    ax.plot(grid, [100 * min(1.0, RATE * t / A_WORKERS) for t in grid], color="#d62728", lw=2,
            label="A's workers held while B hangs (rate × timeout / workers)")
    ax.plot(data["timeout"], 100 * data["held_measured"], "s", color="#d62728", label="… measured")
    p99 = float(np.percentile(samples, 99))
    ax.axvspan(2 * p99, 3 * p99, color="#2ca02c", alpha=0.15, lw=0, label="p99 × 2 to 3")
    chosen = choose_timeout(samples, budget)
    ax.axvline(chosen, color="#2ca02c", ls="--", lw=1.5, label=f"budget {budget:.1%}: {chosen * 1000:.0f} ms")
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("timeout (s)")
    ax.set_ylabel("% of calls  /  % of workers")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3, which="both")
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    ax.set_title("Too low: healthy calls time out.  Too high: a hung B holds A's workers.")
    return fig


def plot_latency(samples=None, *, budget=0.001):
    """B's latency on a healthy day as A sees it, with its percentiles and the choices."""
    from matplotlib.figure import Figure

    from ..patterns.deadline import choose_timeout

    samples = latency_samples() if samples is None else np.asarray(samples)
    fig = Figure(figsize=(8.5, 3), dpi=80, layout="constrained")
    ax = fig.subplots()
    ax.hist(samples * 1000, bins=80, color="#9fb8d6")
    marks = {"p50": np.percentile(samples, 50), "p99": np.percentile(samples, 99),
             "p99.9": np.percentile(samples, 99.9)}
    for row, (name, value) in enumerate(marks.items()):  # one label per line: p99 and p99.9 lie close
        ax.axvline(value * 1000, color="#333333", lw=1, ls=":")
        ax.text(value * 1000, 0.97 - 0.1 * row, f" {name} {value * 1000:.0f} ms", transform=ax.get_xaxis_transform(),
                va="top", fontsize=8, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1})
    ax.axvspan(2000 * marks["p99"], 3000 * marks["p99"], color="#2ca02c", alpha=0.15, lw=0)
    ax.axvline(choose_timeout(samples, budget) * 1000, color="#2ca02c", ls="--")
    ax.set_xlabel("latency of A's calls to B (ms)   green: p99 × 2 to 3;  dashed: the 0.1% budget")
    ax.set_ylabel("calls")
    return fig


# -- deadlines across hops ----------------------------------------------------------------
def hops_world(kind="timeout", *, seed=5, loss=(10.0, 20.0), sample_every=0.1) -> World:
    """load -> A -> B -> C. C (10 workers, 50 ms) loses 6 workers during ``loss``.

    ``kind="timeout"``: A gives B 500 ms and B gives C 400 ms, each on its own.
    ``kind="deadline"``: the same budgets as deadlines: C's request carries
    ``min(A's deadline, B's now + 0.4)`` and C skips what is already too late.
    """
    if kind not in ("timeout", "deadline"):
        raise ValueError(f"kind must be 'timeout' or 'deadline', got {kind!r}")
    policy = Timeout if kind == "timeout" else Deadline
    world = World(seed=seed, sample_every=sample_every)
    world.service("C", workers=10, latency=0.05)
    world.service("B", workers=100, latency=0.005, calls=["C"])
    world.service("A", workers=100, latency=0.001, calls=["B"])
    world.load("A", rate=150)
    world.remove_capacity("C", 6, start=loss[0], end=loss[1])
    world.protect("A", "B", policy(0.5))
    world.protect("B", "C", policy(0.4))
    return world


def answered_ok_again(result, since, service="A", bucket=1.0, share=0.9):
    """First time after ``since`` from which ``service`` answers ``ok`` to at least ``share``
    of its calls in every bucket (``inf`` if never)."""
    return recovered_at(result, since, service, bucket, share)


def waste_table(results, loss=(10.0, 20.0), until=40.0):
    """Per run: C's wasted work (seconds of work for calls someone had abandoned), the
    calls A answered ``ok`` from the loss on, and when A answered again after C healed."""
    return {
        label: {
            "C's wasted work (s)": round(result.wasted["C"], 1),
            "A's ok answers": result.count("A", Outcome.OK, since=loss[0], until=until),
            "A ok again at (s)": answered_ok_again(result, loss[1]),
        }
        for label, result in results.items()
    }


# -- the panel -------------------------------------------------------------------
class TimeoutPanel(Panel):
    """Lesson 1's cascade with a timeout on A's calls to B: slow B down, set the
    timeout (0 ms: none), and watch whether A and C stay responsive.

    B is slowed during t = 10 s to 20 s of a 30 s run, as in lesson 1.
    """

    def __init__(self, *, b_extra_ms=480, timeout_ms=int(TIMEOUT * 1000)):
        self.controls = {
            "B_latency": slider("B extra latency (ms)", value=b_extra_ms, min=0, max=1000, step=10),
            "timeout": slider("A→B timeout (ms, 0 = none)", value=timeout_ms, min=0, max=1000, step=10),
        }
        self.figure = RunFigure(["C", "A", "B"], title="client → C → A → B, with a timeout on A's calls to B")
        super().__init__()

    def simulate(self, settings):
        timeout = settings["timeout"] / 1000 or None
        return slow_b_world(timeout, b_extra=settings["B_latency"] / 1000).run(until=30)

    def describe(self, result, seconds):
        slow = (10.0, 20.0)
        return (f"while B was slow, A's pool was at most {peak_busy(result, 'A', *slow):.0%} busy and "
                f"{false_timeout_share(result, since=slow[0], until=slow[1]):.0%} of its calls to B timed out "
                f"(simulated in {seconds * 1000:.0f} ms)")


def panel() -> TimeoutPanel:
    """The lesson's panel (see :class:`TimeoutPanel`)."""
    return TimeoutPanel()
