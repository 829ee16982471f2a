"""The bulkhead core, its call path, sizing, and the simulated bulkhead."""

import math

import numpy as np
import pytest

from resilience_lab import Outcome, Timeout, World
from resilience_lab.patterns import Bulkhead, call_with_bulkhead, partition_size
from resilience_lab.world import CLIENT


def drive(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def answer(outcome):
    def call():
        yield "network"
        return outcome
    return call


def test_permits_are_taken_up_to_the_limit_and_given_back():
    b = Bulkhead(2)
    assert [b.try_acquire(0.0), b.try_acquire(0.0), b.try_acquire(0.0)] == [True, True, False]
    assert (b.in_use, b.available, b.accepted) == (2, 0, 2)
    b.release(1.0)
    assert b.in_use == 1 and b.try_acquire(1.0)
    assert b.rejected == 0


def test_releasing_more_than_was_taken_is_an_error():
    with pytest.raises(ValueError, match="no permit is held"):
        Bulkhead(1).release(0.0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_sizes_are_refused_with_the_value(bad):
    with pytest.raises(ValueError, match="max_concurrent"):
        Bulkhead(bad)


def test_bad_wait_is_refused():
    with pytest.raises(ValueError, match="max_wait"):
        Bulkhead(3, max_wait=-1)


def test_defaults_are_resilience4j_s():
    b = Bulkhead()
    assert (b.max_concurrent, b.max_wait) == (25, 0.0)


def test_call_path_rejects_at_once_and_counts_it():
    b = Bulkhead(1)
    first = call_with_bulkhead(b, answer(Outcome.OK), lambda: 0.0)
    next(first)
    gen = call_with_bulkhead(b, answer(Outcome.OK), lambda: 0.0)
    with pytest.raises(StopIteration) as stop:
        next(gen)  # returns without yielding: no waiting
    assert stop.value.value == Outcome.REJECTED
    assert b.rejected == 1 and b.in_use == 1
    assert drive(first) == Outcome.OK and b.in_use == 0


def test_call_path_gives_the_permit_back_on_an_exception_or_a_cancellation():
    b = Bulkhead(2)

    def broken():
        yield "network"
        raise ConnectionError("reset")

    gen = call_with_bulkhead(b, broken, lambda: 0.0)
    with pytest.raises(ConnectionError):
        drive(gen)
    assert b.in_use == 0
    gen = call_with_bulkhead(b, answer(Outcome.OK), lambda: 0.0)
    next(gen)
    assert b.in_use == 1
    with pytest.raises(KeyError):
        gen.throw(KeyError("cancelled"))
    assert b.in_use == 0


@pytest.mark.parametrize("rate, latency, headroom, expected", [(150, 0.047, 2, 15), (200, 0.036, 2, 15),
                                                               (100, 0.5, 1.0, 50), (1, 0.001, 2, 1)])
def test_partition_size_is_littles_law_with_headroom(rate, latency, headroom, expected):
    assert partition_size(rate, latency, headroom) == expected


def test_partition_size_refuses_bad_input():
    with pytest.raises(ValueError, match="latency"):
        partition_size(10, 0)


def two_routes(pool_a, pool_b, hang=True):
    world = World(seed=3)
    world.service("A", workers=500, latency=0.01)
    world.service("B", workers=500, latency=0.01)
    world.load("A", rate=100)
    world.load("B", rate=100)
    world.protect(CLIENT, "A", pool_a, Timeout(0.5))
    world.protect(CLIENT, "B", pool_b, Timeout(0.5))
    if hang:
        world.inject_outage("A", mode="hang", start=2, end=6)
    return world.run(until=8)


def test_one_core_on_two_routes_is_one_shared_pool():
    pool = Bulkhead(10, max_wait=math.inf)
    result = two_routes(pool, pool)
    b_calls = result.calls_to("B", CLIENT) & (result.end > 3) & (result.end < 6)
    assert result.latency[b_calls].max() > 0.3  # B waited behind A's hung calls
    assert pool.in_use == 0  # each run works on its own copy


def test_separate_cores_isolate_the_routes_and_reject_at_once():
    result = two_routes(Bulkhead(10), Bulkhead(10))
    b_calls = result.calls_to("B", CLIENT) & (result.end > 3) & (result.end < 6)
    assert result.latency[b_calls].max() < 0.02
    rejected = result.calls_to("A", CLIENT) & (result.outcome == Outcome.REJECTED)
    assert rejected.sum() > 200 and result.latency[rejected].max() == 0.0


def test_a_bounded_wait_rejects_after_the_wait():
    result = two_routes(Bulkhead(10, max_wait=0.2), Bulkhead(10, max_wait=0.2))
    rejected = result.calls_to("A", CLIENT) & (result.outcome == Outcome.REJECTED)
    assert rejected.sum() > 100
    assert result.latency[rejected].min() == pytest.approx(0.2)


def test_waiting_callers_take_turns_on_a_single_permit():
    world = World(seed=1)
    world.service("A", workers=100, latency=0.1)
    world.load("A", rate=50, end=0.2)
    world.protect(CLIENT, "A", Bulkhead(1, max_wait=math.inf))
    result = world.run(until=2.0)
    done = result.calls_to("A") & (result.outcome == Outcome.OK)
    ends = np.sort(result.end[done])
    assert len(ends) >= 5
    # With one permit the calls run one after another, never two at once.
    assert np.diff(ends).min() >= 0.1 - 1e-9
