"""Lesson 1: cascading failures.

The world of the source lesson: a client calls C, C calls A, A calls B. A has 50
workers; B normally answers in about 20 ms. When B slows to about 500 ms, every
worker of A ends up waiting on B, A's queue grows, and then C's workers wait on A.

Little's law is the lesson's tool. A pool of ``N`` workers whose calls each keep
a worker busy for ``W`` seconds finishes at most ``N / W`` calls per second
(50 workers at 0.5 s: 100 per second; at 20 ms: 2,500 per second). Offer more
than that and the difference piles up in the queue, for as long as it lasts.
"""

from __future__ import annotations

import math

import numpy as np

from ..world import LogNormal, World

#: B's normal latency: median 20 ms.
B_LATENCY = LogNormal(median=0.020, sigma=0.25)
#: The extra latency that turns B's 20 ms into about 500 ms.
SLOWDOWN = 0.480


def cascade_world(*, rate=150.0, a_workers=50, c_workers=100, b_extra=SLOWDOWN,
                  fault=(10.0, 20.0), seed=1, sample_every=0.1) -> World:
    """client -> C -> A -> B, with B slowed by ``b_extra`` seconds during ``fault``.

    C and A do 1 ms of their own work per call; B has plenty of workers (200),
    so B itself never queues: it is slow, not overloaded.
    """
    world = World(seed=seed, sample_every=sample_every)
    world.service("B", workers=200, latency=B_LATENCY)
    world.service("A", workers=a_workers, latency=0.001, calls=["B"])
    world.service("C", workers=c_workers, latency=0.001, calls=["A"])
    world.load("C", rate=rate)
    if b_extra and fault:
        world.inject_latency("B", b_extra, start=fault[0], end=fault[1])
    return world


def saturation_world(*, rate=150.0, workers=50, b_extra=SLOWDOWN, fault=(5.0, 15.0),
                     seed=7, sample_every=0.01) -> World:
    """The smallest world with the cascade's cause: the load calls A, A calls B.

    With no C in front, nothing limits how many calls wait for A, so A's queue
    shows the whole backlog. Sampled every 10 ms for precise measurements.
    """
    world = World(seed=seed, sample_every=sample_every)
    world.service("B", workers=400, latency=B_LATENCY)
    world.service("A", workers=workers, latency=0.001, calls=["B"])
    world.load("A", rate=rate)
    if b_extra and fault:
        world.inject_latency("B", b_extra, start=fault[0], end=fault[1])
    return world


def panel(**world_options):
    """The lesson's fault panel (a :class:`~resilience_lab.figures.panel.FaultPanel`):
    B's latency, A's pool size, and the load."""
    # Imported here: the graded checks import this module, and widgets and
    # matplotlib would add half a second to every grading kernel's start.
    from ..figures.panel import FaultPanel

    world = cascade_world(b_extra=0, **world_options)
    return FaultPanel(
        world, until=30.0, window=(10.0, 20.0),
        controls={"B": ["latency"], "A": ["workers"]},
        services=["C", "A", "B"],
        title="client → C → A → B   (shaded: the fault window)",
    )


# -- measurements on a run ------------------------------------------------------
def measured_throughput(result, service, since, until) -> float:
    """Calls to ``service`` that finished ``ok`` per second during ``[since, until)``."""
    from ..outcomes import Outcome

    return result.count(service, Outcome.OK, since=since, until=until) / (until - since)


def measured_fill_time(result, service, since) -> float:
    """Seconds from ``since`` until every worker of ``service`` was busy (inf if never)."""
    times, busy, _, capacity = result.pool(service)
    full = np.nonzero((times >= since) & (busy >= capacity))[0]
    return float(times[full[0]] - since) if len(full) else math.inf


def measured_queue(result, service, at) -> float:
    """Calls waiting in ``service``'s queue at the sample nearest to time ``at``."""
    times, _, queued, _ = result.pool(service)
    return float(queued[np.argmin(np.abs(times - at))])


def mean_b_latency(extra=SLOWDOWN) -> float:
    """B's mean latency while slowed: the extra plus LogNormal's mean."""
    return extra + B_LATENCY.mean
