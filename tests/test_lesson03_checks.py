"""The lesson-3 checks pass a correct breaker and catch deliberately wrong ones,
with a readable table of the first difference."""

import math
from collections import deque

import pytest

from resilience_lab.checks import CheckFailed
from resilience_lab.checks import lesson03 as checks
from resilience_lab.lessons.circuit_breaker import NaiveBreaker
from resilience_lab.patterns import CircuitBreaker


class Breaker:
    """A breaker written the way the exercise asks (rate window, bounded probes)."""

    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate, self.window, self.minimum_calls = failure_rate, window, minimum_calls
        self.open_for, self.probes = open_for, probes
        self.state = "closed"
        self.outcomes = deque()
        self.opened_at = -math.inf
        self.admitted = self.succeeded = 0

    def allow(self, now):
        if self.state == "open" and self.open_period_over(now):
            self.state, self.admitted, self.succeeded = "half_open", 0, 0
        if self.state == "half_open" and self.admitted < self.probes:
            self.admitted += 1
            return True
        return self.state == "closed"

    def open_period_over(self, now):
        return now >= self.opened_at + self.open_for

    def record(self, now, ok):
        if self.state == "closed":
            self.outcomes.append((now, not ok))
            self.slide(now)
            if self.should_trip():
                self.trip(now)
        elif self.state == "half_open":
            if not ok:
                self.trip(now)
            else:
                self.succeeded += 1
                if self.succeeded >= self.probes:
                    self.state = "closed"
                    self.outcomes.clear()

    def slide(self, now):
        while self.outcomes and now - self.outcomes[0][0] >= self.window:
            self.outcomes.popleft()

    def should_trip(self):
        calls = len(self.outcomes)
        failures = sum(failed for _, failed in self.outcomes)
        return calls >= self.minimum_calls and failures / calls >= self.failure_rate

    def trip(self, now):
        self.state, self.opened_at = "open", now
        self.outcomes.clear()


# -- deliberately wrong breakers ---------------------------------------------------------
class Consecutive(Breaker):
    """Counts failures in a row, where a rate is asked for (the source lesson's rule)."""

    def record(self, now, ok):
        if self.state == "closed":
            self.streak = 0 if ok else getattr(self, "streak", 0) + 1
            if self.streak >= self.minimum_calls:
                self.streak = 0
                self.trip(now)
        else:
            super().record(now, ok)


class SourceBreaker:
    """The source lesson's breaker (consecutive failures, half-open herd) with the exercise's signature."""

    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.inner = NaiveBreaker(threshold=minimum_calls, open_for=open_for)

    state = property(lambda self: self.inner.state)
    allow = lambda self, now: self.inner.allow(now)  # noqa: E731
    record = lambda self, now, ok: self.inner.record(now, ok)  # noqa: E731


class HalfOpenHerd(Breaker):
    """A correct rate window, but half-open lets every caller through."""

    def allow(self, now):
        if self.state == "open" and self.open_period_over(now):
            self.state, self.admitted, self.succeeded = "half_open", 0, 0
        return self.state != "open"


class StrictThreshold(Breaker):
    def should_trip(self):
        calls = len(self.outcomes)
        failures = sum(failed for _, failed in self.outcomes)
        return calls >= self.minimum_calls and failures / calls > self.failure_rate


class NoMinimum(Breaker):
    def should_trip(self):
        calls = len(self.outcomes)
        return sum(f for _, f in self.outcomes) / calls >= self.failure_rate


class NeverSlides(Breaker):
    def slide(self, now):
        pass


class WindowIncludesItsEdge(Breaker):
    def slide(self, now):
        while self.outcomes and now - self.outcomes[0][0] > self.window:
            self.outcomes.popleft()


class SuccessResetsTheWindow(Breaker):
    def record(self, now, ok):
        if self.state == "closed" and ok:
            self.outcomes.clear()
        super().record(now, ok)


class OpenPeriodFromTheProbe(Breaker):
    """A failing probe reopens, but the open period keeps its old start."""

    def trip(self, now):
        if self.state == "half_open":
            self.state = "open"
            self.outcomes.clear()
        else:
            super().trip(now)


class LateOpenPeriodEnd(Breaker):
    def open_period_over(self, now):
        return now > self.opened_at + self.open_for


class ProbeFailureIgnored(Breaker):
    def record(self, now, ok):
        if self.state == "half_open" and not ok:
            return
        super().record(now, ok)


class NeverTrips(Breaker):
    def should_trip(self):
        return False


class NeverCloses(Breaker):
    def allow(self, now):
        return self.state == "closed"


def test_the_reference_and_a_correct_student_breaker_pass_every_check():
    assert checks.check_trip(Breaker) == 3
    assert checks.check_recover(Breaker) == 3
    assert checks.check_world(Breaker) == 4
    assert checks.check_recover(CircuitBreaker) == 3


@pytest.mark.parametrize("wrong, check", [
    (Consecutive, checks.check_trip),
    (SourceBreaker, checks.check_trip),
    (SourceBreaker, checks.check_recover),
    (StrictThreshold, checks.check_trip),
    (NoMinimum, checks.check_trip),
    (NeverSlides, checks.check_trip),
    (WindowIncludesItsEdge, checks.check_trip),
    (SuccessResetsTheWindow, checks.check_trip),
    (HalfOpenHerd, checks.check_recover),
    (OpenPeriodFromTheProbe, checks.check_recover),
    (LateOpenPeriodEnd, checks.check_recover),
    (ProbeFailureIgnored, checks.check_recover),
    (NeverTrips, checks.check_world),
    (NeverCloses, checks.check_world),
    (NeverCloses, checks.check_recover),
])
def test_each_wrong_breaker_is_caught(wrong, check, capsys):
    with pytest.raises(CheckFailed):
        check(wrong)
    assert "FAIL" in capsys.readouterr().out


def test_a_trip_check_passes_a_breaker_that_only_errs_after_the_first_trip():
    assert checks.check_trip(HalfOpenHerd) == 3


def test_the_mismatch_is_the_shortest_trace_shown_up_to_the_first_difference(capsys):
    with pytest.raises(CheckFailed) as failure:
        checks.check_trip(StrictThreshold)
    message = str(failure.value)
    assert "Shortest: exactly at the threshold" in message
    table = message.splitlines()
    marked = [line for line in table if "<-- first difference" in line]
    assert len(marked) == 1 and "fail" in marked[0] and "open" in marked[0] and "closed" in marked[0]
    assert table[-1] == marked[0]  # nothing after the first difference


def test_the_herd_is_shown_at_the_second_probe(capsys):
    with pytest.raises(CheckFailed) as failure:
        checks.check_recover(HalfOpenHerd)
    marked = [line for line in str(failure.value).splitlines() if "<-- first difference" in line][0]
    assert "call" in marked and "refused" in marked and "allowed" in marked


def test_an_untouched_exercise_and_a_crashing_breaker_fail_with_a_message(capsys):
    class Stub:
        def __init__(self, **kw):
            raise NotImplementedError("write your code here")

    class Crashes(Breaker):
        def record(self, now, ok):
            raise KeyError("oops")

    with pytest.raises(CheckFailed, match="not implemented"):
        checks.check_trip(Stub)
    with pytest.raises(CheckFailed, match="KeyError"):
        checks.check_trip(Crashes)
    with pytest.raises(CheckFailed, match="breaker class itself"):
        checks.check_trip(Breaker())


def test_the_traces_include_hundreds_of_generated_ones_that_reach_every_state():
    traces = checks.traces()
    assert len(traces) >= 300
    reached = set()
    for _, config, steps in traces:
        b, in_flight = CircuitBreaker(**config), 0
        for now, event in steps:
            if event == "call":
                in_flight += b.allow(now)
            elif in_flight:
                in_flight -= 1
                b.record(now, event == "ok")
            reached.add(b.state)
    assert {"closed", "open", "half_open"} <= reached
