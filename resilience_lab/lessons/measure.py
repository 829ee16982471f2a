"""Measurements several lessons make on a run, in one place.

Each takes a :class:`~resilience_lab.world.RunResult` and a window
``[since, until)`` of simulated seconds.
"""

from __future__ import annotations

import math

import numpy as np


def _busy_share(result, service, since, until):
    times, busy, _, capacity = result.pool(service)
    inside = (times >= since) & (times < until)
    return busy[inside] / capacity[inside]


def peak_busy(result, service, since, until) -> float:
    """The largest share (0 to 1) of ``service``'s workers busy during the window (0 if no sample)."""
    share = _busy_share(result, service, since, until)
    return float(share.max()) if share.size else 0.0


def mean_busy(result, service, since, until) -> float:
    """The mean share (0 to 1) of ``service``'s workers busy during the window (nan if no sample)."""
    share = _busy_share(result, service, since, until)
    return float(share.mean()) if share.size else math.nan


def p99(result, service, since, until) -> float:
    """The p99 latency (s) of the calls to ``service`` that *started* in the window (nan if none)."""
    mask = result.calls_to(service) & (result.start >= since) & (result.start < until)
    return float(np.percentile(result.latency[mask], 99)) if mask.any() else math.nan


def recovered_at(result, since, service="A", bucket=0.25, share=0.95) -> float:
    """The first bucket start after ``since`` from which ``service`` answers ``ok`` to
    at least ``share`` of its calls in every bucket to the end (``inf`` if never)."""
    s = result.summary(service, bucket)
    good = (s.throughput > 0) & (s.goodput >= share * s.throughput)
    for i in np.nonzero(s.time >= since)[0]:
        if good[i:].all():
            return float(s.time[i])
    return math.inf
