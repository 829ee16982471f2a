"""Graded checks of exercise 1: Little's law against the simulated cascade.

Each check first tries the student's function on a few exact cases, then
compares its prediction with what the lesson's world measures (seed 7):
the load calls A at 150 per second, A has 50 workers and calls B, and B is
slowed from about 20 ms to about 500 ms between t = 5 s and t = 15 s.
"""

from __future__ import annotations

import functools
import math

from ..lessons import cascading as lesson
from . import CheckFailed, expect_close, graded

RATE, WORKERS, FAULT = 150.0, 50, (5.0, 15.0)
#: How long one call holds one of A's workers while B is slow: A's 1 ms + B.
HOLD = 0.001 + lesson.mean_b_latency()


@functools.lru_cache(maxsize=8)
def _slow_b_run(b_extra=lesson.SLOWDOWN):
    return lesson.saturation_world(rate=RATE, workers=WORKERS, b_extra=b_extra, fault=FAULT).run(FAULT[1] + 1)


@graded("l1-max-throughput", points=2,
        hint="Little's law: N workers, each busy W seconds per call, finish N / W calls per second.")
def check_max_throughput(max_throughput):
    for workers, latency in [(50, 0.5), (50, 0.02), (8, 0.25)]:
        expect_close(f"max_throughput({workers}, {latency})", max_throughput(workers, latency),
                     workers / latency, rel=1e-6)
    predicted = max_throughput(WORKERS, HOLD)
    measured = lesson.measured_throughput(_slow_b_run(), "A", FAULT[0] + 2, FAULT[1])
    if not math.isclose(predicted, measured, rel_tol=0.05):
        raise CheckFailed(f"you predict {predicted:.1f} calls/s, the simulation measured {measured:.1f}")


@graded("l1-fill-time", points=2,
        hint="Once B is slow, no worker comes back for W seconds, and each arrival takes one: "
             "N arrivals at a rate of λ per second take N / λ seconds. If λ·W < N the pool never fills "
             "(return math.inf).")
def check_fill_time(time_to_fill):
    expect_close("time_to_fill(50, 150, 0.5)", time_to_fill(50, 150, 0.5), 50 / 150, rel=1e-6)
    expect_close("time_to_fill(10, 100, 0.5)", time_to_fill(10, 100, 0.5), 0.1, rel=1e-6)
    expect_close("time_to_fill(50, 100, 0.5) (exactly 50 calls in flight: the pool is just full)",
                 time_to_fill(50, 100, 0.5), 0.5, rel=1e-6)
    expect_close("time_to_fill(50, 150, 0.02) (50 workers keep up with 3 busy on average)",
                 time_to_fill(50, 150, 0.02), math.inf)
    predicted = time_to_fill(WORKERS, RATE, HOLD)
    measured = lesson.measured_fill_time(_slow_b_run(), "A", FAULT[0])
    if abs(predicted - measured) > 0.1:
        raise CheckFailed(f"you predict A's pool fills {predicted:.2f} s after B slows; "
                          f"the simulation measured {measured:.2f} s")


@graded("l1-backlog", points=3,
        hint="While saturated, calls arrive at λ per second and leave at N / W per second; "
             "the difference piles up in the queue for as long as B stays slow. A queue is never negative.")
def check_backlog(backlog):
    expect_close("backlog(50, 100, 0.02, 10) (no saturation)", backlog(50, 100, 0.02, 10), 0.0, abs=1e-9)
    expect_close("backlog(50, 150, 0.5, 10)", backlog(50, 150, 0.5, 10), 500.0, rel=0.05)
    duration = FAULT[1] - FAULT[0]
    predicted = backlog(WORKERS, RATE, HOLD, duration)
    measured = lesson.measured_queue(_slow_b_run(), "A", FAULT[1])
    if not math.isclose(predicted, measured, rel_tol=0.15):
        raise CheckFailed(f"you predict {predicted:.0f} calls waiting when B heals; "
                          f"the simulation measured {measured:.0f}")


@graded("l1-breaking-latency", points=3,
        hint="The pool keeps up while λ·W stays below N: solve λ·W = N for W.")
def check_breaking_latency(breaking_latency):
    expect_close("breaking_latency(50, 150)", breaking_latency(50, 150), 50 / 150, rel=1e-6)
    expect_close("breaking_latency(50, 100)", breaking_latency(50, 100), 0.5, rel=1e-6)
    limit = breaking_latency(WORKERS, RATE)
    # Hold A's workers 10 % under and over the predicted limit: no queue, then a queue.
    below = _slow_b_run(round(0.9 * limit - HOLD + lesson.SLOWDOWN, 4))
    above = _slow_b_run(round(1.1 * limit - HOLD + lesson.SLOWDOWN, 4))
    q_below = lesson.measured_queue(below, "A", FAULT[1])
    q_above = lesson.measured_queue(above, "A", FAULT[1])
    if not (q_below < 20 and q_above > 50):
        raise CheckFailed(f"with B 10% faster than your limit A's queue held {q_below:.0f} calls, "
                          f"10% slower it held {q_above:.0f}: your limit is not where the queue starts")
