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


# -- the rules the edge cases pin down, and the mistakes each of them catches ----------------
class TripsOnlyOnAFailure(Breaker):
    def should_trip(self):
        return self.outcomes[-1][1] and super().should_trip()


class IgnoresFailureRate(Breaker):
    def __init__(self, failure_rate=0.5, **settings):
        super().__init__(failure_rate=0.5, **settings)


class IgnoresWindow(Breaker):
    def __init__(self, window=10.0, **settings):
        super().__init__(window=10.0, **settings)


class ProbesInFlight(Breaker):
    """Reads "at most `probes` calls" as a number in flight: an ended probe frees a place."""

    def record(self, now, ok):
        if self.state == "half_open" and ok:
            self.admitted -= 1
        super().record(now, ok)


class IgnoresOutcomesBeyondTheProbes(Breaker):
    """Counts at most one success per probe it allowed (the rest, it guesses, ended calls from before the trip)."""

    def record(self, now, ok):
        if self.state == "half_open" and ok and self.succeeded >= self.admitted:
            return
        super().record(now, ok)


class LateOutcomeEndsTheOpenPeriod(Breaker):
    def record(self, now, ok):
        if self.state == "open" and self.open_period_over(now):
            self.state, self.admitted, self.succeeded = "half_open", 1, 0
        super().record(now, ok)


class CountsOutcomesWhileOpen(Breaker):
    """Puts late outcomes into the window while open, and keeps them when it closes."""

    def record(self, now, ok):
        if self.state == "open":
            self.outcomes.append((now, not ok))
        elif self.state == "half_open" and ok and self.succeeded + 1 >= self.probes:
            self.state = "closed"  # closes without emptying the window
        else:
            super().record(now, ok)


class SuccessesCarriedOver(Breaker):
    """A new half-open period starts with the successes of the last one."""

    def allow(self, now):
        if self.state == "open" and self.open_period_over(now):
            self.state, self.admitted = "half_open", 0
        if self.state == "half_open" and self.admitted < self.probes:
            self.admitted += 1
            return True
        return self.state == "closed"

    def record(self, now, ok):
        super().record(now, ok)
        if self.state == "closed":
            self.succeeded = 0


class WaitsForAllProbes(Breaker):
    """Decides only when every probe has come back: closes if all succeeded, else reopens."""

    def record(self, now, ok):
        if self.state != "half_open":
            return super().record(now, ok)
        self.back = getattr(self, "back", 0) + 1
        self.succeeded += ok
        if self.succeeded >= self.probes:
            self.state, self.back = "closed", 0
            self.outcomes.clear()
        elif self.back >= self.probes:
            self.back = 0
            self.trip(now)


def _disagrees_on(breaker_class, trace_prefix, *, until_first_trip=False):
    """Does ``breaker_class`` disagree with the reference on the edge case whose name starts so?"""
    [(config, steps)] = [(checks.CONFIGS[i], steps) for name, i, steps in checks._edge_cases()
                         if name.startswith(trace_prefix)]
    script = checks._script(config, steps, until_first_trip=until_first_trip)
    answers = checks.breaker_answers(breaker_class, [(config, script)])[0]
    return checks._compare(script, answers) is not None


@pytest.mark.parametrize("wrong, trace, check", [
    (TripsOnlyOnAFailure, "a success can trip it too", checks.check_trip),
    (IgnoresFailureRate, "exactly at a 75% threshold", checks.check_trip),
    (IgnoresWindow, "a 3 s window", checks.check_trip),
    (ProbesInFlight, "`probes` is a total for the half-open period", checks.check_recover),
    (IgnoresOutcomesBeyondTheProbes, "two successes in half-open close it", checks.check_recover),
    (LateOutcomeEndsTheOpenPeriod, "an outcome after the open period but before any call", checks.check_recover),
    (CountsOutcomesWhileOpen, "late failures while open are not counted after closing", checks.check_recover),
    (SuccessesCarriedOver, "a new half-open period counts its successes afresh", checks.check_recover),
    (WaitsForAllProbes, "the first failed probe reopens at once", checks.check_recover),
])
def test_an_edge_case_written_for_a_mistake_catches_it(wrong, trace, check, capsys):
    assert not _disagrees_on(Breaker, trace) and not _disagrees_on(CircuitBreaker, trace)
    assert _disagrees_on(wrong, trace, until_first_trip=check is checks.check_trip)
    with pytest.raises(CheckFailed):
        check(wrong)


def _reference_rows(trace_prefix):
    [(config, steps)] = [(checks.CONFIGS[i], steps) for name, i, steps in checks._edge_cases()
                         if name.startswith(trace_prefix)]
    return [(now, event, answer, state) for now, event, answer, state in checks._script(config, steps,
                                                                                         until_first_trip=False)]


def test_the_edge_cases_hold_the_rules_the_exercise_states():
    # half-open admits `probes` calls in all: with 1 of 3 probes in flight, a 4th call is refused
    rows = _reference_rows("`probes` is a total")
    assert (1.875, "call", "refused", "half_open") in rows and rows[-1] == (2.125, "call", "allowed", "closed")
    # an outcome in half-open from a call allowed before the trip is a probe's: its success closes it
    rows = _reference_rows("every outcome recorded in half-open is a probe's")
    assert (5.625, "ok", "", "closed") in rows and rows[-1] == (6.25, "call", "refused", "open")
    # ... and its failure reopens it, with a new open period from that moment
    rows = _reference_rows("a call allowed before the trip fails in half-open")
    assert (5.625, "fail", "", "open") in rows and (10.5, "call", "refused", "open") in rows
    assert (10.625, "call", "allowed", "half_open") in rows
    # an outcome while open, even after open_for, changes nothing; the next call is the probe
    rows = _reference_rows("an outcome after the open period")
    assert (6.0, "ok", "", "open") in rows and (6.125, "call", "allowed", "half_open") in rows


def test_a_breaker_that_never_closes_again_is_told_so_in_the_world(capsys):
    with pytest.raises(CheckFailed, match="never answered ok steadily again"):
        checks.check_world(NeverCloses)
