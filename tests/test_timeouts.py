"""Timeouts and deadlines: the cores (literal times) and what they do in the world."""

import math

import numpy as np
import pytest

from resilience_lab import World
from resilience_lab.outcomes import Outcome
from resilience_lab.patterns import Deadline, Timeout, choose_timeout
from resilience_lab.patterns.deadline import rule_of_thumb
from resilience_lab.world.request import Request


def test_a_deadline_shrinks_as_it_is_passed_down():
    hop = Deadline(1.0)
    assert hop.child(10.0) == 11.0
    assert hop.child(10.0, inherited=10.4) == 10.4  # the caller had less left
    assert hop.child(10.0, inherited=12.0) == 11.0
    assert Deadline.remaining(10.25, 10.4) == pytest.approx(0.15)
    assert Deadline.remaining(11.0, 10.4) == 0.0 and Deadline.remaining(5.0, None) == math.inf
    assert Deadline.expired(10.4, 10.4) and not Deadline.expired(10.39, 10.4)
    assert not Deadline.expired(1e9, None)


@pytest.mark.parametrize("bad", [0, -1, math.inf, True, "1"])
def test_bad_deadlines_and_timeouts_are_refused(bad):
    with pytest.raises(ValueError, match="seconds"):
        Deadline(bad)
    with pytest.raises(ValueError, match="seconds"):
        Timeout(bad)


def test_choose_timeout_lets_at_most_the_budget_time_out():
    samples = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    assert choose_timeout(samples, 0.0) == 1.0
    assert choose_timeout(samples, 0.01) == 0.99  # one sample (1.00) may time out
    assert choose_timeout(samples, 0.05) == 0.95
    assert choose_timeout(samples, 0.019) == 0.99  # 1.9 samples: only 1 may
    assert choose_timeout(reversed(samples), 0.05) == 0.95  # order does not matter
    t = choose_timeout(samples, 0.1)
    assert sum(s > t for s in samples) <= 10 and sum(s > 0.999 * t for s in samples) > 10


@pytest.mark.parametrize("samples, budget, match", [
    ([], 0.01, "at least one"), ([1.0], 1.0, "budget"), ([1.0], -0.1, "budget"), ([1.0], True, "budget")])
def test_choose_timeout_refuses_bad_input(samples, budget, match):
    with pytest.raises(ValueError, match=match):
        choose_timeout(samples, budget)


def test_rule_of_thumb_is_p99_times_two_to_three():
    assert rule_of_thumb(0.04) == pytest.approx(0.1)
    assert rule_of_thumb(0.04, 2) == pytest.approx(0.08)
    with pytest.raises(ValueError, match="2 to 3"):
        rule_of_thumb(0.04, 10)


def test_a_request_is_dropped_when_it_or_a_parent_is_abandoned():
    top = Request()
    child = Request(5.0, top)
    grandchild = Request(5.0, child)
    assert not grandchild.dropped()
    child.abandoned = True
    assert grandchild.dropped() and child.dropped() and not top.dropped()


# -- in the world ---------------------------------------------------------------------
def chain(*, hop_policy, seed=2):
    """load -> A -> B, B with 5 workers at 50 ms (100/s) but 2 of them lost from t = 2 to 6."""
    world = World(seed=seed, sample_every=0.05)
    world.service("B", workers=5, latency=0.05)
    world.service("A", workers=200, latency=0.001, calls=["B"])
    world.load("A", rate=80)
    world.remove_capacity("B", 3, start=2, end=6)
    world.protect("A", "B", hop_policy)
    return world


def test_a_timeout_frees_the_caller_but_the_callee_keeps_working():
    result = chain(hop_policy=Timeout(0.3)).run(until=12)
    a_to_b = result.calls_to("B")
    timed_out = a_to_b & (result.outcome == Outcome.TIMEOUT)
    assert timed_out.sum() > 50
    assert np.allclose(result.latency[timed_out], 0.3)
    assert result.wasted["B"] > 5.0  # seconds of B's work nobody read
    assert result.wasted["A"] == 0.0


def test_a_deadline_lets_the_callee_skip_what_its_caller_abandoned():
    plain = chain(hop_policy=Timeout(0.3)).run(until=12)
    deadline = chain(hop_policy=Deadline(0.3)).run(until=12)
    # What is left is work begun shortly before the deadline and finished after it.
    assert deadline.wasted["B"] < 0.3 * plain.wasted["B"]
    # B's queue empties sooner, so A gets answers again sooner after B heals.
    ok_after = lambda r: r.count("B", Outcome.OK, since=6.0, until=8.0)
    assert ok_after(deadline) > 1.5 * ok_after(plain)


def test_deadlines_shrink_across_hops_in_the_world():
    world = World(seed=4)
    world.service("C", workers=2, latency=0.2)
    world.service("B", workers=50, latency=0.15, calls=["C"])
    world.service("A", workers=50, latency=0.001, calls=["B"])
    world.load("A", rate=20)
    world.protect("A", "B", Deadline(0.25))
    world.protect("B", "C", Deadline(10.0))  # B's own budget is generous; A's deadline wins
    result = world.run(until=5)
    b_to_c = result.calls_to("C")
    # B spends 0.15 s, so at most 0.1 s is left for C, which needs 0.2 s.
    assert b_to_c.sum() > 20
    assert np.all(result.outcome[b_to_c] != Outcome.OK)
    assert result.latency[b_to_c].max() <= 0.1 + 1e-9


# -- the lesson's claims ---------------------------------------------------------------------
def test_lesson_a_timeout_bounds_a_s_pool_while_b_is_slow():
    from resilience_lab.lessons import timeouts as lesson

    plain = lesson.slow_b_world().run(until=30)
    bounded = lesson.slow_b_world(0.1).run(until=30)
    assert lesson.peak_busy(plain, "A", 12, 20) == 1.0
    assert lesson.mean_busy(bounded, "A", 12, 20) == pytest.approx(150 * 0.1 / 50, abs=0.05)
    assert lesson.p99(bounded, "A", 12, 20) <= 0.1 + 0.003
    assert bounded.wasted["B"] > 300  # B kept working on calls A had dropped


def test_lesson_tradeoff_matches_little_and_the_samples():
    from resilience_lab.lessons import timeouts as lesson

    samples = lesson.latency_samples(2000)
    data = lesson.tradeoff(timeouts=(0.025, 0.1, 0.5), samples=samples)
    assert np.allclose(data["held_measured"], data["held_predicted"], atol=0.03)
    assert np.allclose(data["false_measured"], data["false_predicted"], atol=0.03)
    assert data["held_predicted"][-1] == 1.0 and data["false_predicted"][-1] == 0.0


def test_lesson_deadlines_cut_waste_and_let_a_recover_when_c_heals():
    from resilience_lab.lessons import timeouts as lesson

    table = lesson.waste_table({kind: lesson.hops_world(kind).run(until=40) for kind in ("timeout", "deadline")})
    assert table["deadline"]["C's wasted work (s)"] < 0.3 * table["timeout"]["C's wasted work (s)"]
    assert table["deadline"]["A ok again at (s)"] <= 21.0
    assert table["timeout"]["A ok again at (s)"] >= 30.0
    with pytest.raises(ValueError, match="kind"):
        lesson.hops_world("hope")


def test_exercise_2_describes_the_timeout_run_as_it_happens():
    """Exercise 2: with no timeout A's pool is full soon after B hangs; with 100 ms, A's
    p99 stays at about 0.1 s and at most about half of its pool is busy."""
    from resilience_lab.lessons import timeouts as lesson

    def while_b_hangs(result):
        times, busy, _, capacity = result.pool("A")
        during = (times >= 5) & (times < 15)
        return (busy[during] / capacity[during]).max(), result.summary("A", 0.5).p99[10:30]

    full, _ = while_b_hangs(lesson.outage_world(None).run(until=20))
    busiest, p99 = while_b_hangs(lesson.outage_world(Timeout(0.1)).run(until=20))
    assert full == 1.0 and 0.35 < busiest < 0.65 and 0.09 < np.nanmax(p99) < 0.12
