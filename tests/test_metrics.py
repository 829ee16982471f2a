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
