"""The simulated world: services, load, faults, policies, determinism, bad input."""

import math

import numpy as np
import pytest

from resilience_lab import Exponential, LogNormal, Outcome, Timeout, World


def chain(seed=1, rate=100.0, **kw):
    world = World(seed=seed, **kw)
    world.service("B", workers=20, latency=Exponential(0.02))
    world.service("A", workers=20, latency=0.001, calls=["B"])
    world.load("A", rate=rate)
    return world


def test_same_seed_same_numbers_and_other_seed_other_numbers():
    def run(seed):
        w = chain(seed)
        w.inject_errors("B", 0.2, start=2, end=4)
        return w.run(until=6)

    a, b, c = run(3), run(3), run(4)
    for name in ("service", "caller", "start", "end", "outcome"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert np.array_equal(a.busy, b.busy)
    assert not np.array_equal(a.start[:50], c.start[:50])


def test_poisson_load_arrives_at_its_rate():
    result = chain(rate=200).run(until=20)
    started = np.count_nonzero(result.calls_to("A"))
    # Poisson count over 20 s at 200/s: mean 4000, sd about 63.
    assert abs(started - 4000) < 5 * 63


def test_added_latency_applies_inside_its_window_only():
    world = chain()
    world.inject_latency("B", 0.3, start=2, end=4)
    result = world.run(until=6)
    to_b = result.calls_to("B")
    inside = to_b & (result.start >= 2.0) & (result.start < 4.0)
    outside = to_b & ((result.start < 1.9) | (result.start >= 4.0))
    assert result.latency[inside & (result.outcome == Outcome.OK)].min() >= 0.3
    assert np.median(result.latency[outside]) < 0.05


def test_jitter_spreads_latency_both_ways():
    world = chain(rate=20)
    world.inject_latency("B", 0.3, jitter=0.1, start=0, end=10)
    lat = world.run(until=10)
    b = lat.latency[lat.calls_to("B") & (lat.outcome == Outcome.OK)]
    assert b.min() < 0.25 and b.max() > 0.38


def test_a_fault_on_one_service_leaves_the_others_untouched():
    def run(with_fault):
        world = World(seed=5)
        world.service("B", workers=10, latency=0.01)
        world.service("D", workers=10, latency=0.01)
        world.load("B", rate=50)
        world.load("D", rate=50)
        if with_fault:
            world.inject_errors("B", 1.0, start=1, end=3)
        return world.run(until=4)

    plain, faulty = run(False), run(True)
    d_plain, d_faulty = plain.calls_to("D"), faulty.calls_to("D")
    assert np.array_equal(plain.start[d_plain], faulty.start[d_faulty])
    assert np.array_equal(plain.outcome[d_plain], faulty.outcome[d_faulty])
    b = faulty.calls_to("B") & (faulty.end >= 1) & (faulty.end < 3)  # errors strike as work ends
    assert np.all(faulty.outcome[b] == Outcome.ERROR)


def test_error_rate_fault_fails_about_that_share():
    world = chain(rate=200)
    world.inject_errors("B", 0.3, start=0, end=20)
    result = world.run(until=20)
    b = result.calls_to("B") & (result.outcome != Outcome.UNFINISHED)
    share = np.mean(result.outcome[b] == Outcome.ERROR)
    assert abs(share - 0.3) < 0.03
    # A fails exactly when its call to B failed.
    a = result.calls_to("A") & (result.outcome != Outcome.UNFINISHED)
    assert np.count_nonzero(result.outcome[a] == Outcome.ERROR) == np.count_nonzero(result.outcome[b] == Outcome.ERROR)


def test_outage_fail_mode_refuses_at_once():
    world = chain()
    world.inject_outage("B", start=1, end=2)
    result = world.run(until=3)
    during = result.calls_to("B") & (result.start >= 1) & (result.start < 2)
    assert np.all(result.outcome[during] == Outcome.ERROR)
    assert np.all(result.latency[during] == 0)


def test_outage_hang_mode_never_answers_and_holds_the_caller():
    world = chain(rate=50)
    world.inject_outage("B", mode="hang", start=1, end=2)
    result = world.run(until=3)
    hung = result.calls_to("B") & (result.start >= 1) & (result.start < 2)
    assert np.all(result.outcome[hung] == Outcome.UNFINISHED)
    times, busy, queued, capacity = result.pool("A")
    assert busy[-1] == 20 and queued[-1] > 0  # A's pool is lost to the black hole for good


def test_lost_capacity_shrinks_the_pool_for_the_window_then_restores_it():
    world = chain()
    world.remove_capacity("A", 15, start=1, end=2)
    times, busy, _, capacity = world.run(until=3).pool("A")
    assert set(capacity[(times >= 1.05) & (times < 1.95)]) == {5}
    assert set(capacity[times >= 2.05]) == {20}
    assert busy[(times >= 1.05) & (times < 1.95)].max() <= 20


def test_lost_capacity_queues_calls_until_workers_return():
    world = World(seed=2)
    world.service("A", workers=4, latency=0.1)
    world.load("A", rate=30)
    world.remove_capacity("A", 4, start=1, end=2)
    result = world.run(until=3)
    times, busy, queued, capacity = result.pool("A")
    assert queued[np.argmin(abs(times - 1.9))] > 10
    ended_in_window = result.calls_to("A") & (result.end > 1.2) & (result.end < 2.0)
    assert not ended_in_window.any()


def test_killed_instance_fails_its_share_of_calls():
    world = World(seed=9)
    world.service("B", workers=10, latency=0.01, instances=4)
    world.load("B", rate=200)
    world.kill_instance("B", 2, start=0, end=10)
    result = world.run(until=10)
    share = np.mean(result.outcome[result.calls_to("B") & (result.outcome != Outcome.UNFINISHED)] == Outcome.ERROR)
    assert share == pytest.approx(0.25, abs=0.01)  # round robin: every fourth call


def test_timeout_policy_frees_the_caller_while_the_callee_keeps_working():
    world = chain(rate=20)
    world.inject_latency("B", 1.0, start=0, end=5)
    world.protect("A", "B", Timeout(0.25))
    result = world.run(until=5)
    b = result.calls_to("B") & (result.outcome != Outcome.UNFINISHED)
    assert np.all(result.outcome[b] == Outcome.TIMEOUT)
    assert np.allclose(result.latency[b], 0.25)
    times, busy_b, _, _ = result.pool("B")
    assert busy_b[times > 2].mean() > 10  # B is still working on answers nobody reads


def test_policies_wrap_outermost_first():
    seen = []

    class Tag:
        def __init__(self, name):
            self.name = name

        def wrap(self, run, caller, target, call):
            def tagged(ctx):
                seen.append(self.name)
                return (yield from call(ctx))
            return tagged

    world = chain(rate=5)
    world.protect("A", "B", Tag("outer"), Tag("inner"))
    world.run(until=1)
    assert seen[:2] == ["outer", "inner"]


def test_each_run_gets_fresh_copies_of_stateful_policies():
    class Counter:
        def __init__(self):
            self.calls = 0

        def wrap(self, run, caller, target, call):
            def counted(ctx):
                self.calls += 1
                return (yield from call(ctx))
            run.counters = getattr(run, "counters", []) + [self]
            return counted

    policy = Counter()
    world = chain(rate=20)
    world.protect("A", "B", policy)
    world.run(until=2)
    assert policy.calls == 0  # the configured object is never the one that runs


def test_closed_loop_clients_never_exceed_their_count():
    world = World(seed=4)
    world.service("A", workers=100, latency=Exponential(0.05))
    world.clients("A", 7, think_time=0.01)
    result = world.run(until=10)
    times, busy, queued, _ = result.pool("A")
    assert busy.max() <= 7 and busy.max() >= 5


def test_fan_out_in_parallel_takes_the_slowest_not_the_sum():
    def run(parallel):
        world = World(seed=1)
        world.service("B", workers=50, latency=0.1)
        world.service("D", workers=50, latency=0.2)
        world.service("A", workers=50, latency=0.0, calls=["B", "D"], parallel=parallel)
        world.load("A", rate=10)
        result = world.run(until=5)
        return np.median(result.latency[result.calls_to("A") & (result.outcome == Outcome.OK)])

    assert run(False) == pytest.approx(0.3)
    assert run(True) == pytest.approx(0.2)


def test_calls_in_flight_at_the_end_are_recorded_as_unfinished():
    world = World(seed=1)
    world.service("A", workers=1, latency=1.0)
    world.load("A", rate=10)
    result = world.run(until=5)
    assert result.in_flight_at_end("A") > 20
    assert np.all(result.end[result.outcome == Outcome.UNFINISHED] == 5.0)


@pytest.mark.parametrize("build, words", [
    (lambda w: w.service("X", workers=0), ["workers", "0"]),
    (lambda w: w.service("X", workers=2.5), ["workers", "2.5"]),
    (lambda w: w.service("X", latency=-1), ["latency", "-1"]),
    (lambda w: w.service("X", error_rate=1.5), ["error_rate", "1.5"]),
    (lambda w: w.load("A", rate=-3), ["rate", "-3"]),
    (lambda w: w.inject_latency("A", 0.1, start=5, end=2), ["end after it starts", "start=5", "end=2"]),
    (lambda w: w.inject_errors("A", 2), ["rate", "2"]),
    (lambda w: w.inject_outage("A", mode="maybe"), ["mode", "maybe"]),
    (lambda w: w.service("A"), ["defined twice"]),
    (lambda w: w.protect("A", "B", "a string"), ["not a policy", "a string"]),
    (lambda w: Timeout(0), ["Timeout", "0"]),
])
def test_bad_configuration_names_the_bad_value(build, words):
    world = World()
    world.service("A", workers=2)
    with pytest.raises(ValueError) as error:
        build(world)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("build, words", [
    (lambda w: w.service("Y", calls=["Nope"]), ["Nope", "known services: A"]),
    (lambda w: w.load("Nope", rate=1), ["Nope", "load"]),
    (lambda w: w.inject_outage("Nope"), ["Nope"]),
    (lambda w: w.kill_instance("A", 3), ["instance", "3"]),
    (lambda w: w.remove_capacity("A", 5), ["5 workers", "has 2"]),
])
def test_unknown_names_and_impossible_faults_fail_at_run_with_a_clear_message(build, words):
    world = World()
    world.service("A", workers=2)
    build(world)
    with pytest.raises(ValueError) as error:
        world.run(until=1)
    for word in words:
        assert word in str(error.value)


def test_a_loop_of_calls_is_refused():
    world = World()
    world.service("A", calls=["B"])
    world.service("B", calls=["A"])
    with pytest.raises(ValueError, match="loop: A -> B -> A"):
        world.run(until=1)


def test_run_needs_a_positive_duration():
    with pytest.raises(ValueError, match="until"):
        chain().run(until=0)


def test_lognormal_median_and_tail():
    import random
    rng = random.Random(0)
    d = LogNormal(0.02, 0.3)
    xs = np.array([d.sample(rng) for _ in range(20000)])
    assert np.median(xs) == pytest.approx(0.02, rel=0.03)
    assert np.percentile(xs, 99) == pytest.approx(0.02 * math.exp(2.326 * 0.3), rel=0.05)


def test_a_call_path_that_drops_the_outcome_is_named_not_counted_as_ok():
    from resilience_lab.world import World

    class Dropping:
        def wrap(self, run, caller, target, call):
            def path(ctx):
                yield from call(ctx)  # forgets to return the outcome
            return path

    world = World(seed=1)
    world.service("B", workers=4, latency=0.01)
    world.service("A", workers=4, latency=0.001, calls=["B"])
    world.load("A", rate=10)
    world.protect("A", "B", Dropping())
    with pytest.raises(ValueError, match="a call from A to B ended with None, not an Outcome"):
        world.run(until=2)


# -- the waiting line ------------------------------------------------------------------
class _Counted:
    """A stand-in request that counts how often it is compared with another."""

    comparisons = 0

    def __eq__(self, other):
        _Counted.comparisons += 1
        return self is other

    __hash__ = object.__hash__


def test_a_call_leaves_the_middle_of_a_long_queue_without_a_scan():
    # Tearing down a run that ends with N calls queued removes each of them once:
    # a line that scans to remove costs N^2 / 2 comparisons in all. The world's
    # line removes from anywhere with (almost) no comparison, and keeps the order.
    import simpy

    from resilience_lab.world.service import WaitingLine, WorkerPool

    assert isinstance(WorkerPool(simpy.Environment(), 1).put_queue, WaitingLine)  # the world uses it
    line = WaitingLine()
    requests = [_Counted() for _ in range(10_000)]
    for request in requests:
        line.append(request)
    _Counted.comparisons = 0
    for request in requests[5_000:5_100] + requests[-100:]:
        line.remove(request)
    assert _Counted.comparisons <= 10  # a list would make about 1.5 million here
    assert len(line) == 9_800
    assert line[0] is requests[0] and line.pop(0) is requests[0]
    assert list(line)[4_998:5_000] == [requests[4_999], requests[5_100]]

