"""The lesson-2 checks pass a correct timeout policy and chooser, and catch wrong ones."""

import math

import numpy as np
import pytest

from resilience_lab.checks import CheckFailed
from resilience_lab.checks import lesson02 as checks
from resilience_lab.outcomes import Outcome
from resilience_lab.patterns import Timeout, choose_timeout
from resilience_lab.patterns.deadline import rule_of_thumb
from resilience_lab.world.policies import TimeoutPolicy


class MyTimeout:
    """A timeout policy written the way the exercise asks."""

    def __init__(self, seconds):
        self.seconds = seconds

    def wrap(self, run, caller, target, call):
        env = run.env

        def with_timeout(ctx):
            answer = env.process(call(ctx))
            timer = env.timeout(self.seconds)
            yield answer | timer
            return answer.value if answer.triggered else Outcome.TIMEOUT

        return with_timeout


# -- wrong policies -------------------------------------------------------------------------
class WaitsForever(MyTimeout):
    """Passes the call straight through: no timeout at all."""

    def wrap(self, run, caller, target, call):
        return call


class ReportsLate(MyTimeout):
    """Waits for the answer, then calls it a timeout if it took too long."""

    def wrap(self, run, caller, target, call):
        env = run.env

        def late(ctx):
            started = env.now
            outcome = yield from call(ctx)
            return Outcome.TIMEOUT if env.now - started > self.seconds else outcome

        return late


class ErrorsBecomeTimeouts(MyTimeout):
    def wrap(self, run, caller, target, call):
        env = run.env

        def hides_errors(ctx):
            answer = env.process(call(ctx))
            yield answer | env.timeout(self.seconds)
            return Outcome.OK if answer.triggered and answer.value == Outcome.OK else Outcome.TIMEOUT

        return hides_errors


class AlwaysTimesOut(MyTimeout):
    def wrap(self, run, caller, target, call):
        env = run.env

        def gives_up(ctx):
            env.process(call(ctx))
            yield env.timeout(self.seconds)
            return Outcome.TIMEOUT

        return gives_up


class TimerTooLong(MyTimeout):
    def __init__(self, seconds):
        super().__init__(2 * seconds)


class TimerTooShort(MyTimeout):
    def __init__(self, seconds):
        super().__init__(seconds / 2)


def test_a_correct_policy_and_chooser_and_the_reference_pass():
    assert checks.check_timeout_policy(MyTimeout) == 4
    class Reference(TimeoutPolicy):
        def __init__(self, seconds):
            super().__init__(Timeout(seconds))

    assert checks.check_timeout_policy(Reference) == 4
    assert checks.check_choose_timeout(choose_timeout) == 3


@pytest.mark.parametrize("wrong", [WaitsForever, ReportsLate, ErrorsBecomeTimeouts, AlwaysTimesOut,
                                   TimerTooLong, TimerTooShort])
def test_each_wrong_policy_is_caught(wrong, capsys):
    with pytest.raises(CheckFailed):
        checks.check_timeout_policy(wrong)
    assert "FAIL  l2-timeout-policy" in capsys.readouterr().out


# -- wrong choosers ----------------------------------------------------------------------------
def p99_times_three(samples, budget):
    return rule_of_thumb(float(np.percentile(samples, 99)), 3)


def interpolated_percentile(samples, budget):
    return float(np.percentile(samples, 100 * (1 - budget)))


def one_too_many(samples, budget):
    values = sorted(samples)
    return values[len(values) - 1 - math.ceil(budget * len(values))]


def unsorted(samples, budget):
    values = list(samples)
    return values[len(values) - 1 - math.floor(budget * len(values))]


def the_largest(samples, budget):
    return max(samples)


@pytest.mark.parametrize("wrong", [p99_times_three, interpolated_percentile, one_too_many, unsorted, the_largest])
def test_each_wrong_chooser_is_caught(wrong, capsys):
    with pytest.raises(CheckFailed):
        checks.check_choose_timeout(wrong)
    out = capsys.readouterr().out
    assert "FAIL  l2-choose-timeout" in out and "samples are above it" in out or "returned" in out


def test_an_untouched_policy_fails_as_not_implemented(capsys):
    class Stub(MyTimeout):
        def wrap(self, run, caller, target, call):
            def with_timeout(ctx):
                raise NotImplementedError("write your code here")

            return with_timeout

    with pytest.raises(CheckFailed, match="not implemented"):
        checks.check_timeout_policy(Stub)
