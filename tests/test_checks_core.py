"""What every check relies on: numbers as Python counts them, one message per
failure, and student objects that hold thread locks."""

import copy
import threading
from fractions import Fraction

import numpy as np
import pytest

from resilience_lab.checks import CheckFailed, expect_close, graded, is_number, whole_number
from resilience_lab.lessons import circuit_breaker as lesson3
from resilience_lab.patterns.circuit_breaker import CircuitBreaker
from resilience_lab.outcomes import Outcome


@pytest.mark.parametrize("value", [15, 15.0, np.int64(15), np.float64(15.0), Fraction(15), np.float32(15)])
def test_a_number_is_a_number_whatever_its_type(value):
    expect_close("f()", value, 15.0)
    assert whole_number("f()", value) == 15 and type(whole_number("f()", value)) is int


@pytest.mark.parametrize("value", [True, np.bool_(True), "15", None, [15]])
def test_booleans_and_non_numbers_are_refused_with_the_value(value):
    assert not is_number(value)
    with pytest.raises(CheckFailed, match="f\\(\\) returned"):
        expect_close("f()", value, 15.0)


@pytest.mark.parametrize("value", [15.5, np.float64(14.999), float("inf"), float("nan")])
def test_a_whole_number_has_nothing_after_the_point(value):
    with pytest.raises(CheckFailed, match="expected a whole number"):
        whole_number("partition_size(150, 0.047, 2)", value)


def test_a_failed_check_shows_its_message_once(capsys):
    @graded("core-test-once", points=1, hint="a hint")
    def check(value):
        raise CheckFailed("a table\nwith two lines")

    try:
        with pytest.raises(CheckFailed) as raised:
            check(1)
        printed = capsys.readouterr().out
        shown = "\n".join(raised.value._render_traceback_())
        assert printed.count("with two lines") == 1 and "with two lines" not in shown
        assert "core-test-once" in shown
    finally:
        from resilience_lab.checks import REGISTRY

        del REGISTRY["core-test-once"]


class LockedBreaker(CircuitBreaker):
    """The reference with a thread lock around every step, as a thread-safe breaker has."""

    def __init__(self, **settings):
        super().__init__(**settings)
        self.lock = threading.RLock()
        self.plain = threading.Lock()
        self.permits = threading.BoundedSemaphore(2)

    def allow(self, now):
        with self.lock, self.plain:
            return super().allow(now)


def test_a_policy_holding_locks_runs_in_the_world_and_is_copied_with_fresh_locks():
    breaker = LockedBreaker(**lesson3.LESSON_BREAKER)
    breaker.lock.acquire()  # held by "another thread": a copy must not inherit that
    clone = copy.deepcopy(breaker)
    assert clone.lock is not breaker.lock and clone.lock.acquire(blocking=False)
    assert clone.permits.acquire(blocking=False) and clone.plain.acquire(blocking=False)
    breaker.lock.release()
    result = lesson3.outage_world(LockedBreaker(**lesson3.LESSON_BREAKER)).run(lesson3.UNTIL)
    assert (result.outcome == Outcome.SHORT_CIRCUITED).sum() > 100  # it tripped, in the run's own copy


def test_an_exception_without_a_message_is_named_without_a_dangling_colon():
    from resilience_lab.checks import verdict

    def body(f):
        f()

    def bare():
        raise RuntimeError

    assert verdict(body, bare) == (False, "your code raised RuntimeError (with no message)")
    assert verdict(body, lambda: 1 / 0) == (False, "your code raised ZeroDivisionError: division by zero")
