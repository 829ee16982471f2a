"""Faults act on the calls a service already holds, not only on the calls that arrive.

- an outage in ``fail`` mode ends every call the service holds (queued, at work,
  or waiting on a dependency) with the connection error, at once;
- an outage in ``hang`` mode lets no answer out while it lasts: a call whose
  answer falls inside it never gets one;
- a killed instance loses what it held (error at once, or no answer ever);
- latency injected while a call is at work lengthens that call from then on;
- a retry sees a refused or reset connection as ``"connection"``, whatever the
  service's own error status.
"""

import numpy as np
import pytest

from resilience_lab import Outcome, Timeout, World
from resilience_lab.patterns import Backoff, Retry
from resilience_lab.world import CLIENT


def one_service(*, workers=3, latency=1.0, rate=6.0, seed=1, **kw):
    """Load -> S: 3 workers, 1 s of work each, 6 calls a second: a queue that keeps growing."""
    world = World(seed=seed, sample_every=0.05)
    world.service("S", workers=workers, latency=latency, **kw)
    world.load("S", rate=rate)
    return world


def ended(result, service, outcome, since, until):
    mask = result.calls_to(service) & (result.outcome == outcome)
    return mask & (result.end > since) & (result.end < until)


# -- fail ---------------------------------------------------------------------------------
def test_a_fail_outage_ends_the_queued_and_working_calls_at_once():
    world = one_service()
    world.inject_outage("S", start=5, end=10)
    result = world.run(until=12)
    s = result.calls_to("S")
    held = s & (result.start < 5) & (result.end >= 5)  # in the service when it went down
    assert held.sum() > 10  # 3 at work and a queue
    assert np.all(result.outcome[held] == Outcome.ERROR)
    assert np.all(result.end[held] == 5.0)  # connection reset at once, not when the work would end
    assert not ended(result, "S", Outcome.OK, 5, 10).any()  # nothing answers ok while it is down
    times, busy, queued, _ = result.pool("S")
    during = (times > 5) & (times < 10)
    assert busy[during].max() == 0 and queued[during].max() == 0  # it comes back empty
    assert ended(result, "S", Outcome.OK, 10, 12).any()  # and serves again afterwards


def test_a_fail_outage_ends_a_call_waiting_on_its_dependency_at_once():
    world = World(seed=2)
    world.service("B", workers=50, latency=2.0)
    world.service("A", workers=50, latency=0.01, calls=["B"])
    world.load("A", rate=10)
    world.inject_outage("A", start=3, end=6)
    result = world.run(until=8)
    a = result.calls_to("A")
    waiting = a & (result.start < 3) & (result.start > 1.1)  # A's calls on the phone to B at t = 3
    assert waiting.sum() > 10
    assert np.all(result.outcome[waiting] == Outcome.ERROR)
    assert np.all(result.end[waiting] == 3.0)
    # B is not down: it goes on working on those calls and answers A, which no longer listens.
    to_b = result.calls_to("B") & (result.start > 1.1) & (result.start < 3)
    assert np.all(result.outcome[to_b] == Outcome.OK)


# -- hang ---------------------------------------------------------------------------------
def test_a_hang_outage_lets_no_answer_out_while_it_lasts():
    world = one_service(workers=100, rate=20)
    world.inject_outage("S", mode="hang", start=5, end=5.5)
    result = world.run(until=8)
    s = result.calls_to("S")
    assert not (s & (result.outcome != Outcome.UNFINISHED) & (result.end >= 5) & (result.end < 5.5)).any()
    due_inside = s & (result.start >= 4) & (result.start < 4.5)  # their work ends between 5 and 5.5
    assert due_inside.sum() > 5
    assert np.all(result.outcome[due_inside] == Outcome.UNFINISHED)  # those answers are lost
    due_after = s & (result.start >= 4.5) & (result.start < 5)  # work ends after the outage
    assert due_after.sum() > 5
    assert np.all(result.outcome[due_after] == Outcome.OK)
    assert np.allclose(result.latency[due_after], 1.0)


def test_a_caller_with_a_timeout_gets_timeouts_from_a_hang_outage_for_calls_already_inside():
    world = one_service(workers=100, rate=20)
    world.protect(CLIENT, "S", Timeout(1.5))
    world.inject_outage("S", mode="hang", start=5, end=7)
    result = world.run(until=9)
    due_inside = result.calls_to("S") & (result.start >= 4.1) & (result.start < 4.9)
    assert np.all(result.outcome[due_inside] == Outcome.TIMEOUT)


# -- killed instances ----------------------------------------------------------------------
@pytest.mark.parametrize("mode, outcome", [("fail", Outcome.ERROR), ("hang", Outcome.UNFINISHED)])
def test_a_killed_instance_loses_the_calls_it_held(mode, outcome):
    world = one_service(workers=2, rate=8, instances=2)  # each instance: 2 workers for 4 calls/s: queues
    world.kill_instance("S", 1, mode=mode, start=4, end=6)
    result = world.run(until=10)
    s = result.calls_to("S")
    held = s & (result.start < 4) & (result.end >= 4)
    lost = held & (result.outcome == outcome) & np.isin(result.end, [4.0, 10.0])
    assert lost.sum() >= 5  # instance 1's calls, at work and queued
    assert lost.sum() < held.sum()  # instance 0's calls go on
    times, busy, _, capacity = result.pool("S")
    right_after = np.argmin(abs(times - 4.05))
    assert busy[right_after] == 2  # instance 0 still busy; instance 1's workers were freed
    assert ended(result, "S", Outcome.OK, 4, 6).sum() > 0


def test_a_killed_instance_refusal_is_retried_as_a_connection_error():
    # The service answers 404 on its own errors, which a retry must never repeat; a
    # refused connection is transient whatever that status.
    def run(retry_inside_timeout):
        world = World(seed=3)
        world.service("B", workers=20, latency=0.01, instances=2, error_status=404)
        world.load("B", rate=50)
        policies = [Retry(3, Backoff("none", 0.001, 0.001))]
        if retry_inside_timeout:
            policies.append(Timeout(1.0))
        world.protect(CLIENT, "B", *policies)
        world.kill_instance("B", 1, start=0, end=10)
        return world.run(until=10)

    for with_timeout in (False, True):
        result = run(with_timeout)
        requests = result.calls_to("B", CLIENT)
        assert np.mean(result.outcome[requests] == Outcome.OK) > 0.99, with_timeout
        assert len(result.arrivals["B"]) > 1.4 * requests.sum()  # half the first attempts were refused


def test_a_connection_reset_mid_call_is_retried_but_a_dependency_refusal_is_not_the_callers():
    world = World(seed=4)
    world.service("B", workers=50, latency=0.01)
    world.service("A", workers=50, latency=0.5, calls=["B"], error_status=404)
    world.load("A", rate=40)
    world.protect(CLIENT, "A", Retry(2, Backoff("none", 0.02, 0.02)))  # waits out the 10 ms outage
    world.inject_outage("A", start=3, end=3.01)  # resets the calls A holds, briefly
    world.inject_outage("B", start=6, end=8)  # B refuses; A answers its own 404
    result = world.run(until=10)
    requests = result.calls_to("A", CLIENT)
    reset = requests & (result.start > 2.6) & (result.start < 2.99)
    assert reset.sum() > 5 and np.all(result.outcome[reset] == Outcome.OK)  # retried at once, served
    refused_below = requests & (result.start > 6.2) & (result.start < 7.4)
    assert refused_below.sum() > 20 and np.all(result.outcome[refused_below] == Outcome.ERROR)
    arrivals = result.arrivals["A"]
    assert np.count_nonzero((arrivals > 6.7) & (arrivals < 7.9)) < 1.3 * refused_below.sum()  # not retried


# -- latency injected mid-call -----------------------------------------------------------
def test_latency_injected_mid_call_lengthens_the_calls_at_work_from_that_moment():
    world = one_service(workers=100, rate=20)
    world.inject_latency("S", 0.5, start=2.3, end=2.4)
    result = world.run(until=5)
    s = result.calls_to("S") & (result.outcome == Outcome.OK)
    at_work = s & (result.start > 1.3) & (result.start < 2.3)
    assert at_work.sum() > 10
    assert np.allclose(result.latency[at_work], 1.5)
    done_before = s & (result.start < 1.29)
    assert np.allclose(result.latency[done_before], 1.0)
    started_inside = s & (result.start >= 2.3) & (result.start < 2.4)
    assert np.allclose(result.latency[started_inside], 1.5)
    started_after = s & (result.start >= 2.4)
    assert np.allclose(result.latency[started_after], 1.0)


def test_jittered_latency_injected_mid_call_draws_per_call_and_repeats_with_the_seed():
    def run():
        world = one_service(workers=100, rate=20)
        world.inject_latency("S", 0.5, jitter=0.2, start=2.3, end=2.4)
        return world.run(until=5)

    first, again = run(), run()
    at_work = first.calls_to("S") & (first.start > 1.3) & (first.start < 2.3)
    extra = first.latency[at_work] - 1.0
    assert extra.min() >= 0.3 - 1e-9 and extra.max() <= 0.7 + 1e-9 and extra.std() > 0.05
    assert np.array_equal(first.end, again.end)
