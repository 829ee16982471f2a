"""The circuit breaker core (literal times, no clock) and its SimPy adapter."""

import math

import pytest

from resilience_lab import World
from resilience_lab.outcomes import Outcome
from resilience_lab.patterns import CircuitBreaker, Timeout
from resilience_lab.patterns.circuit_breaker import (
    CLOSED, DISABLED, FORCED_OPEN, HALF_OPEN, OPEN, STATES, TRANSITIONS,
)
from resilience_lab.world.breaker_policy import BreakerPolicy, breaker_states, state_name


def feed(breaker, steps):
    """Each step (time, ok): ask allow(time), and if allowed record(time, ok)."""
    allowed = []
    for now, ok in steps:
        allowed.append(breaker.allow(now))
        if allowed[-1]:
            breaker.record(now, ok)
    return allowed


def rate_breaker(**kw):
    options = dict(failure_rate=0.5, window=10.0, minimum_calls=4, open_for=5.0, probes=1)
    options.update(kw)
    return CircuitBreaker(**options)


# -- rate mode ------------------------------------------------------------------
def test_trips_exactly_at_the_failure_rate():
    b = rate_breaker()
    feed(b, [(0.0, True), (1.0, False), (2.0, True)])
    assert b.state == CLOSED
    feed(b, [(3.0, False)])  # 2 failures of 4 calls: 50% >= 50%
    assert b.state == OPEN and b.opened_at == 3.0


def test_stays_closed_just_below_the_failure_rate():
    b = rate_breaker(minimum_calls=5)
    feed(b, [(0.0, True), (1.0, True), (2.0, False), (3.0, True), (4.0, False)])  # 40%
    assert b.state == CLOSED


def test_needs_the_minimum_number_of_calls():
    b = rate_breaker(minimum_calls=4)
    feed(b, [(0.0, False), (0.1, False), (0.2, False)])  # 100% but only 3 calls
    assert b.state == CLOSED
    feed(b, [(0.3, False)])
    assert b.state == OPEN


def test_old_outcomes_slide_out_of_the_window():
    b = rate_breaker(minimum_calls=4, window=10.0)
    feed(b, [(0.0, False), (1.0, False), (2.0, False)])
    assert b.calls_in_window(9.9) == (3, 3)
    assert b.calls_in_window(10.0) == (2, 2)  # counted while now - t < window
    feed(b, [(11.5, True), (11.6, True), (11.7, True)])  # window: 2.0 F, three successes
    assert b.state == CLOSED and b.calls_in_window(11.7) == (4, 1)


def test_the_failure_rate_is_not_reset_by_single_successes():
    b = rate_breaker(minimum_calls=10)
    steps = [(i * 0.1, i % 5 in (1, 3)) for i in range(10)]  # 60% failures, never 3 in a row
    feed(b, steps)
    assert b.state == OPEN
    consecutive = CircuitBreaker(mode="consecutive", failure_threshold=3)
    feed(consecutive, steps)
    assert consecutive.state == CLOSED


def test_slow_calls_count_as_failures_when_asked():
    b = rate_breaker(minimum_calls=2, slow_call_duration=1.0)
    b.record(0.0, True, duration=0.5)
    b.record(0.1, True, duration=1.0)  # slow: 1 of 2 is a failure
    assert b.state == OPEN
    plain = rate_breaker(minimum_calls=2)
    plain.record(0.0, True, duration=5.0)
    plain.record(0.1, True, duration=5.0)
    assert plain.state == CLOSED


# -- consecutive mode -------------------------------------------------------------
def test_consecutive_mode_trips_after_the_threshold_and_a_success_resets():
    b = CircuitBreaker(mode="consecutive", failure_threshold=3)
    feed(b, [(0, False), (1, False), (2, True), (3, False), (4, False)])
    assert b.state == CLOSED
    feed(b, [(5, False)])
    assert b.state == OPEN


# -- open and half-open -------------------------------------------------------------
def opened(**kw):
    b = rate_breaker(minimum_calls=1, **kw)
    b.record(0.0, False)
    assert b.state == OPEN
    return b


def test_open_refuses_until_the_open_period_is_over():
    b = opened(open_for=5.0)
    assert not b.allow(4.999)
    assert b.state == OPEN and b.rejected == 1
    assert b.allow(5.0)
    assert b.state == HALF_OPEN


def test_half_open_admits_only_the_probes():
    b = opened(probes=2)
    assert [b.allow(6.0), b.allow(6.0), b.allow(6.1), b.allow(6.2)] == [True, True, False, False]


def test_probes_that_succeed_close_the_breaker_with_an_empty_window():
    b = opened(probes=2)
    b.allow(6.0), b.allow(6.0)
    b.record(6.5, True)
    assert b.state == HALF_OPEN
    b.record(6.6, True)
    assert b.state == CLOSED and b.calls_in_window(6.6) == (0, 0)


def test_a_failing_probe_reopens_at_once_and_restarts_the_open_period():
    b = opened(probes=2)
    b.allow(6.0), b.allow(6.0)
    b.record(6.5, True)
    b.record(6.7, False)
    assert b.state == OPEN and b.opened_at == 6.7
    b.record(6.8, True)  # the other probe answers late: ignored while open
    assert b.state == OPEN
    assert not b.allow(11.6) and b.allow(11.7)


def test_every_transition_is_an_event_and_in_the_table():
    b = opened()
    seen = []
    b.add_listener(seen.append)
    b.allow(5.0)
    b.record(5.5, True)
    assert [(t.time, t.source, t.target) for t in b.transitions] == [
        (0.0, CLOSED, OPEN), (5.0, OPEN, HALF_OPEN), (5.5, HALF_OPEN, CLOSED)]
    assert seen == b.transitions[1:]
    for t in b.transitions:
        assert TRANSITIONS[t.source][t.trigger] == t.target


def test_the_table_names_only_known_states_and_every_state_is_reachable():
    targets = {target for moves in TRANSITIONS.values() for target in moves.values()}
    assert set(TRANSITIONS) == set(STATES) == targets | {CLOSED} | targets


# -- manual control ------------------------------------------------------------------
def test_force_open_refuses_everything_until_reset():
    b = rate_breaker()
    b.force_open(1.0)
    assert b.state == FORCED_OPEN and not b.allow(1000.0)
    b.reset(1001.0)
    assert b.state == CLOSED and b.allow(1001.0)


def test_disabled_allows_everything_and_counts_nothing():
    b = rate_breaker(minimum_calls=1)
    b.disable(0.0)
    assert all(feed(b, [(t, False) for t in range(10)]))
    assert b.state == DISABLED
    b.reset(20.0)
    assert b.state == CLOSED and b.calls_in_window(20.0) == (0, 0)


def test_a_move_the_table_does_not_allow_is_refused():
    b = rate_breaker()
    with pytest.raises(ValueError, match="closed breaker cannot 'reset'"):
        b.reset(0.0)


@pytest.mark.parametrize("bad", [
    dict(mode="streak"), dict(failure_rate=0), dict(failure_rate=1.5), dict(window=0),
    dict(minimum_calls=0), dict(minimum_calls=2.5), dict(open_for=-1), dict(probes=0),
    dict(failure_threshold=True), dict(slow_call_duration=0), dict(window=math.nan),
])
def test_bad_settings_name_the_value(bad):
    (name, value), = bad.items()
    with pytest.raises(ValueError, match=name):
        CircuitBreaker(**bad)


# -- in the simulated world ------------------------------------------------------------
def outage_world(*policies, mode="hang"):
    world = World(seed=3, sample_every=0.1)
    world.service("B", workers=100, latency=0.02)
    world.service("A", workers=30, latency=0.001, calls=["B"])
    world.load("A", rate=100)
    world.inject_outage("B", mode=mode, start=5, end=15)
    world.protect("A", "B", *policies)
    return world


def test_the_breaker_short_circuits_during_an_outage_and_closes_after():
    breaker = CircuitBreaker(failure_rate=0.5, window=2.0, minimum_calls=10, open_for=2.0)
    result = outage_world(breaker, Timeout(0.5)).run(until=25)
    states = breaker_states(result, "A->B")
    assert states[0] == (0.0, "closed")
    names = [s for _, s in states]
    assert names[1:3] == ["open", "half_open"] and names[-1] == "closed"
    # Timeouts are recorded from t = 5.5; with a 2 s window, failures reach half
    # of the window's calls when t - 5.5 = 5.5 - (t - 2), at t = 6.5.
    assert 6.4 < states[1][0] < 6.6
    assert 15.0 <= states[-1][0] <= 17.6  # closes within open_for (+ a probe) of B healing
    shorted = result.count("A", Outcome.SHORT_CIRCUITED) + result.count("B", Outcome.SHORT_CIRCUITED)
    assert shorted > 500
    assert breaker.state == CLOSED and breaker.transitions == []  # the world ran a copy


def test_the_adapter_drives_any_object_with_allow_and_record():
    class Never:
        state = "closed"

        def allow(self, now):
            return False

        def record(self, now, ok):
            raise AssertionError("never called")

    result = outage_world(BreakerPolicy(Never())).run(until=2)
    b_calls = result.calls_to("B")
    assert b_calls.sum() > 100 and set(result.outcome[b_calls]) == {Outcome.SHORT_CIRCUITED}


def test_state_names_are_normalised():
    import enum

    class State(enum.Enum):
        HALF_OPEN = 3

    assert state_name(State.HALF_OPEN) == "half_open"
    assert state_name("Half-Open") == "half_open"


# -- the lesson's claims, and its figures --------------------------------------------------
def test_lesson_the_breaker_trips_fast_and_spares_a_s_pool():
    from resilience_lab.lessons import circuit_breaker as lesson

    plain = lesson.outage_world(None).run(lesson.UNTIL)
    guarded = lesson.outage_world(lesson.lesson_breaker()).run(lesson.UNTIL)
    opened = [t for t, s in breaker_states(guarded, "A->B") if s == "open"]
    assert 10.5 < opened[0] < 12.0  # about half the 2 s window after the first timeouts
    assert lesson.peak_busy(plain, "A", 12.5, 20) == 1.0
    assert lesson.peak_busy(guarded, "A", 12.5, 20) < 0.2
    assert lesson.p99(guarded, "A", 12.5, 20) < 0.01
    assert lesson.recovered_at(guarded, 20.0) <= 20.0 + 3.0 + 0.5 + 0.25


def test_lesson_the_naive_breaker_sends_a_herd_and_never_trips_at_60_percent():
    from resilience_lab.lessons import circuit_breaker as lesson

    naive = lesson.outage_world(lesson.NaiveBreaker(threshold=5)).run(lesson.UNTIL)
    bounded = lesson.outage_world(lesson.lesson_breaker()).run(lesson.UNTIL)
    assert lesson.half_open_episodes(naive) == lesson.half_open_episodes(bounded) == 2
    assert lesson.sent_while_tripped(bounded) == 2  # one probe per half-open episode
    assert lesson.sent_while_tripped(naive) > 50
    streak = lesson.outage_world(lesson.NaiveBreaker(threshold=20), error_rate=0.6).run(lesson.UNTIL)
    rate = lesson.outage_world(lesson.lesson_breaker(), error_rate=0.6).run(lesson.UNTIL)
    assert [s for _, s in breaker_states(streak, "A->B")] == ["closed"]
    assert [t for t, s in breaker_states(rate, "A->B") if s == "open"][0] < 12.0
    assert round(lesson.streak_calls(0.6, 20)) == 68375
    assert lesson.streak_calls(0.5, 1) == pytest.approx(2.0)  # a fair coin: two flips to the first tail


def test_state_intervals_and_time_in_state():
    from resilience_lab.figures.breaker import state_intervals, time_in_state

    states = [(0.0, "closed"), (2.0, "open"), (5.0, "half_open"), (5.0, "open"), (8.0, "closed")]
    assert state_intervals(states, 10.0) == [(0.0, 2.0, "closed"), (2.0, 5.0, "open"), (5.0, 8.0, "open"),
                                             (8.0, 10.0, "closed")]
    assert time_in_state(states, 10.0, "open") == 6.0
    assert time_in_state(states, 10.0, "closed", since=1.0) == 3.0


def test_the_state_diagram_draws_one_arrow_per_pair_of_states_in_the_table():
    from matplotlib.patches import FancyArrowPatch

    from resilience_lab.figures.breaker import plot_state_diagram

    pairs = {(s, t) for s, moves in TRANSITIONS.items() for t in moves.values()}
    arrows = [p for p in plot_state_diagram().axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(pairs)
    table = {"a": {"go": "b"}, "b": {"back": "a", "stay": "c"}, "c": {}}
    arrows = [p for p in plot_state_diagram(table).axes[0].patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 3


def test_the_breaker_panel_reruns_with_new_settings():
    from resilience_lab.lessons import circuit_breaker as lesson

    panel = lesson.panel()
    assert panel.image.value[:4] == b"\x89PNG"
    panel.set(mode="fail", open_for=5.0)
    with_breaker = panel.results["with the breaker"]
    assert any(f.mode == "fail" for f in with_breaker.faults)
    opened = [t for t, s in breaker_states(with_breaker, "A->B") if s == "open"][0]
    half = [t for t, s in breaker_states(with_breaker, "A->B") if s == "half_open"][0]
    assert half - opened >= 5.0
    with pytest.raises(ValueError, match="no control"):
        panel.set(speed=3)


def test_exercise_3_describes_the_reference_breaker_run_as_it_happens():
    """Exercise 3 tells students what their breaker's run should look like: open by
    about t = 11.3 s, a failing probe every 3 s, closed at about t = 21.3 s."""
    from resilience_lab.lessons import circuit_breaker as lesson

    result = lesson.outage_world(CircuitBreaker(**lesson.LESSON_BREAKER)).run(lesson.UNTIL)
    states = breaker_states(result, "A->B")
    opened = next(t for t, s in states if s == "open")
    closed = next(t for t, s in states if s == "closed" and t > 20)
    probes = [t for t, s in states if s == "half_open" and t < 20]
    assert 10.8 < opened < 11.8 and 20.8 < closed < 21.8
    assert len(probes) >= 2 and all(2.9 < b - a < 3.6 for a, b in zip(probes, probes[1:]))
