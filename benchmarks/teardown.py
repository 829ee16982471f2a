"""Tearing down a run that ends with a long queue: the cost must grow with the queue, not its square.

The world: one service with one worker busy for the whole run, and Poisson
calls arriving for 10 simulated seconds, so that nearly every call is still
queued when the run ends (as in a panel pushed far into overload). Each
measurement is the CPU time of the run *and* of its teardown: the run's objects
form reference cycles (the environment and its processes), so they are freed by
the cycle collector, which closes every waiting call; ``gc.collect()`` is called
inside the measurement so that this cost is counted here, not in whatever runs next.

The figure is a ratio against a baseline in the same run: the CPU time with
``QUEUED`` calls queued divided by the CPU time with ``BASELINE`` calls queued
(median of ``REPEATS`` interleaved pairs). Linear cost gives about
``QUEUED / BASELINE`` (8x); SimPy's own waiting list gives far more, because
removing each waiting call scans the list: that line is measured too, at a
smaller size so that it stays quick.
"""

from __future__ import annotations

import gc

from benchmarks import Stopwatch, median

BASELINE, QUEUED, REPEATS = 5_000, 40_000, 3
LIST_SIZES = (5_000, 20_000)  # SimPy's list, for comparison (quadratic: kept small)


def run_and_tear_down(queued: int, seed: int) -> int:
    """Run the overloaded world and free it; returns how many calls were still queued."""
    from resilience_lab import World

    world = World(seed=seed, sample_every=1.0)
    world.service("S", workers=1, latency=1000.0)
    world.load("S", rate=queued / 10.0)
    result = world.run(until=10.0)
    left = int(result.queued[-1, 0])
    del result
    gc.collect()
    return left


def cpu_seconds(queued: int, seed: int) -> float:
    with Stopwatch() as t:
        run_and_tear_down(queued, seed)
    return t.cpu


def ratio(small: int, large: int, repeats: int) -> dict:
    """Median CPU(large) / CPU(small) over ``repeats`` pairs, alternating which runs first."""
    cpu_seconds(small // 10, 0)  # warm up: imports and first-call costs stay out
    ratios, smalls, larges = [], [], []
    for i in range(repeats):
        order = [small, large] if i % 2 == 0 else [large, small]
        timing = {size: cpu_seconds(size, 1 + i) for size in order}
        smalls.append(timing[small])
        larges.append(timing[large])
        ratios.append(timing[large] / timing[small])
    return {"small": small, "large": large, "ratio_median": median(ratios), "ratios": ratios,
            "small_cpu_median": median(smalls), "large_cpu_median": median(larges)}


def with_simpy_list(small: int, large: int, repeats: int) -> dict:
    """The same ratio with the pool's waiting line put back to SimPy's plain list
    (and SimPy's own loop over it)."""
    from simpy.resources.base import BaseResource

    from resilience_lab.world.service import WorkerPool

    kept = WorkerPool.PutQueue, WorkerPool._trigger_put
    WorkerPool.PutQueue, WorkerPool._trigger_put = list, BaseResource._trigger_put
    try:
        return ratio(small, large, repeats)
    finally:
        WorkerPool.PutQueue, WorkerPool._trigger_put = kept


def run(quick: bool = False) -> dict:
    small, large, repeats = (BASELINE // 4, QUEUED // 4, 3) if quick else (BASELINE, QUEUED, REPEATS)
    ours = ratio(small, large, repeats)
    plain = with_simpy_list(*LIST_SIZES, repeats=1 if quick else 2)
    expected = large / small
    lines = [
        f"CPU time to run and tear down a run that ends with N calls queued (one worker, 10 s of arrivals), "
        f"median of {repeats} interleaved pairs:",
        "",
        f"- {large:,} queued / {small:,} queued: **{ours['ratio_median']:.1f}x** "
        f"(linear: {expected:.0f}x; {ours['large_cpu_median']:.2f} s against {ours['small_cpu_median']:.2f} s)",
        f"- the same with SimPy's plain list as the waiting line, {plain['large']:,} / {plain['small']:,} queued: "
        f"{plain['ratio_median']:.1f}x (linear: {plain['large'] / plain['small']:.0f}x; "
        f"{plain['large_cpu_median']:.2f} s against {plain['small_cpu_median']:.2f} s)",
    ]
    return {"title": "Tearing down a run that ends with a long queue", "lines": lines,
            "waiting_line": ours, "simpy_list": plain}
