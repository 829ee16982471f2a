"""Load-dependent work (SlowerUnderLoad): the latency model behind overload collapse."""

import random

import numpy as np
import pytest

from resilience_lab import Fixed, SlowerUnderLoad, World
from resilience_lab.world import Load


def test_the_work_is_factor_times_longer_past_the_backlog_only():
    slow = SlowerUnderLoad(0.1, factor=10, backlog=60)
    rng = random.Random(1)
    assert slow.sample_under(rng, Load(busy=30, queued=60, workers=30)) == pytest.approx(0.1)
    assert slow.sample_under(rng, Load(busy=30, queued=61, workers=30)) == pytest.approx(1.0)
    assert slow.sample(rng) == pytest.approx(0.1)  # an idle instance: the healthy work
    assert slow.latency == Fixed(0.1)


def test_the_utilisation_threshold_counts_busy_workers():
    slow = SlowerUnderLoad(0.02, factor=3, utilisation=0.8)
    rng = random.Random(1)
    assert slow.sample_under(rng, Load(busy=7, queued=0, workers=10)) == pytest.approx(0.02)
    assert slow.sample_under(rng, Load(busy=8, queued=0, workers=10)) == pytest.approx(0.06)
    assert Load(busy=0, queued=4, workers=0).utilisation == 1.0  # a pool with no worker left is full


@pytest.mark.parametrize("kwargs, words", [
    (dict(latency=0.1), ["exactly one of backlog", "backlog=None", "utilisation=None"]),
    (dict(latency=0.1, backlog=5, utilisation=0.5), ["exactly one of", "backlog=5", "utilisation=0.5"]),
    (dict(latency=0.1, backlog=-1), ["backlog", "whole number", "-1"]),
    (dict(latency=0.1, backlog=2.5), ["backlog", "2.5"]),
    (dict(latency=0.1, utilisation=1.5), ["utilisation", "at most 1", "1.5"]),
    (dict(latency=0.1, utilisation=0), ["utilisation", "above 0", "0"]),
    (dict(latency=0.1, factor=0.5, backlog=3), ["factor", ">= 1", "0.5"]),
    (dict(latency=0.1, factor=float("inf"), backlog=3), ["factor", "inf"]),
    (dict(latency=-0.1, backlog=3), ["SlowerUnderLoad latency", "-0.1"]),
    (dict(latency="fast", backlog=3), ["SlowerUnderLoad latency", "fast"]),
])
def test_bad_settings_name_the_value_and_what_is_allowed(kwargs, words):
    with pytest.raises(ValueError) as error:
        SlowerUnderLoad(**kwargs)
    for word in words:
        assert word in str(error.value)


def test_in_the_world_a_backlog_past_the_threshold_slows_the_work():
    # 2 workers of 0.1 s (20 calls/s) offered 30 calls/s: the queue grows past 20
    # after about 2 s, and from then on each call takes 0.5 s.
    world = World(seed=1, sample_every=0.05)
    world.service("S", workers=2, latency=SlowerUnderLoad(0.1, factor=5, backlog=20))
    world.load("S", rate=30)
    result = world.run(until=8)
    visits = result.visits["S"]
    worked = visits[:, 2][visits[:, 1] < 8]
    assert set(np.round(worked, 9)) == {0.1, 0.5}
    times, _, queued, _ = result.pool("S")
    first_slow = np.round(visits[:, 2], 9) == 0.5
    began = (visits[:, 1] - visits[:, 2])[first_slow].min()
    assert queued[np.searchsorted(times, began) - 1] >= 20  # it slowed only once the queue was long
    assert np.all(np.round(worked[:10], 9) == 0.1)
