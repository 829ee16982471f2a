"""Summaries computed from known records."""

import numpy as np
import pytest

from resilience_lab import Outcome
from resilience_lab.world.metrics import RunResult

OK, ERR, UNF = int(Outcome.OK), int(Outcome.ERROR), int(Outcome.UNFINISHED)


def result_with(records, until=3.0):
    return RunResult(services=["A"], records=records, sample_times=[0.0], samples=[[(0, 0, 1)]],
                     faults=[], until=until, seed=0)


def test_summary_buckets_by_end_time():
    records = [
        (0, 1, 0.0, 0.1, OK), (0, 1, 0.2, 0.5, OK), (0, 1, 0.3, 0.9, ERR),  # bucket 0
        (0, 1, 0.8, 1.2, OK),                                              # bucket 1
        (0, 1, 2.5, 3.0, UNF),                                             # unfinished
    ]
    s = result_with(records).summary("A", bucket=1.0)
    assert list(s.time) == [0.0, 1.0, 2.0]
    assert list(s.throughput) == [3, 1, 0]
    assert list(s.goodput) == [2, 1, 0]
    assert s.error_rate[0] == pytest.approx(1 / 3) and s.error_rate[1] == 0 and np.isnan(s.error_rate[2])
    assert s.p50[0] == pytest.approx(np.percentile([0.1, 0.3, 0.6], 50))
    assert s.p99[1] == pytest.approx(0.4)
    assert np.isnan(s.p99[2])
    assert list(s.started) == [4, 0, 1]


def test_counts_and_unknown_names():
    r = result_with([(0, 1, 0.0, 0.1, OK), (0, 1, 0.0, 2.5, ERR), (0, 1, 1.0, 3.0, UNF)])
    assert r.count("A", Outcome.OK) == 1
    assert r.count("A", Outcome.ERROR, since=2) == 1
    assert r.in_flight_at_end("A") == 1
    with pytest.raises(ValueError, match="unknown service 'Z'"):
        r.summary("Z")
    with pytest.raises(ValueError, match="bucket"):
        r.summary("A", bucket=0)


def test_callee_view_buckets_arrivals_by_arrival_and_work_by_leaving():
    r = RunResult(services=["A"], records=[], sample_times=[0.0], samples=[[(0, 0, 1)]], faults=[],
                  until=3.0, seed=0,
                  visits={"A": [(0.1, 0.6, 0.5, 0.0), (0.9, 1.4, 0.5, 0.5), (1.2, 2.9, 0.25, 0.25)]})
    r.arrivals = {"A": np.array([0.1, 0.9, 0.95, 1.2])}  # 0.95: refused at the door, never a visit
    c = r.callee("A", bucket=1.0)
    assert list(c.arrivals) == [3, 1, 0]
    assert list(c.work) == [0.5, 0.5, 0.25]
    assert list(c.wasted) == [0.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="unknown service 'Z'"):
        r.callee("Z")


def test_throughput_counts_failures_and_goodput_does_not():
    # A service that refuses every call at once has a throughput, and no goodput.
    from resilience_lab import World

    world = World(seed=1)
    world.service("A", workers=4, latency=0.01)
    world.load("A", rate=100)
    world.inject_outage("A", start=0, end=10)
    s = world.run(until=10).summary("A", bucket=5.0)
    assert np.all(s.throughput > 80) and np.all(s.goodput == 0)


def test_work_and_wasted_work_are_the_callees_own_seconds():
    # B does 50 ms of work per call; A gives up after 30 ms, so every answer B sends
    # is wasted; A does its own 1 ms and nobody abandons A.
    from resilience_lab import Timeout, World

    world = World(seed=2)
    world.service("B", workers=100, latency=0.05)
    world.service("A", workers=100, latency=0.001, calls=["B"])
    world.load("A", rate=50)
    world.protect("A", "B", Timeout(0.03))
    result = world.run(until=20)
    visits = result.visits["B"]
    finished = visits[:, 1] < 19.9
    assert np.allclose(visits[finished, 2], 0.05) and np.allclose(visits[finished, 3], 0.05)
    assert result.work["B"] == pytest.approx(visits[:, 2].sum())
    assert result.wasted["B"] == pytest.approx(result.work["B"], rel=0.01)
    assert result.wasted["A"] == 0.0 and result.work["A"] == pytest.approx(0.001 * len(result.visits["A"]))
    assert len(visits) == len(result.arrivals["B"])  # every attempt that reached B was taken in
    import gc

    gc.collect()  # tearing the run down closes the calls still inside: their visits count once
    assert len(result.visits["B"]) == len(result.arrivals["B"])
