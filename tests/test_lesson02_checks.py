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


class HardCoded(MyTimeout):
    """Ignores its argument: always the lesson's 100 ms."""

    def __init__(self, seconds):
        super().__init__(0.1)


class _Mapping(MyTimeout):
    """Races the answer against the timer, then maps what came in time with ``mapped``."""

    def wrap(self, run, caller, target, call):
        env = run.env

        def with_timeout(ctx):
            answer = env.process(call(ctx))
            yield answer | env.timeout(self.seconds)
            return self.mapped(answer.value) if answer.triggered else Outcome.TIMEOUT

        return with_timeout


class OtherAnswersBecomeTimeouts(_Mapping):
    @staticmethod
    def mapped(outcome):
        return outcome if outcome in (Outcome.OK, Outcome.ERROR) else Outcome.TIMEOUT


class FailuresBecomeErrors(_Mapping):
    @staticmethod
    def mapped(outcome):
        return Outcome.OK if outcome == Outcome.OK else Outcome.ERROR


class NonErrorsBecomeOk(_Mapping):
    @staticmethod
    def mapped(outcome):
        return Outcome.ERROR if outcome == Outcome.ERROR else Outcome.OK


class ShortCircuitsBecomeRejections(_Mapping):
    @staticmethod
    def mapped(outcome):
        return Outcome.REJECTED if outcome == Outcome.SHORT_CIRCUITED else outcome


class AlwaysWaitsForTheTimer(MyTimeout):
    def wrap(self, run, caller, target, call):
        env = run.env

        def full_wait(ctx):
            answer = env.process(call(ctx))
            yield env.timeout(self.seconds)
            return answer.value if answer.triggered else Outcome.TIMEOUT

        return full_wait


class LateByAMillisecond(MyTimeout):
    """Answers come through, but a millisecond after they came."""

    def wrap(self, run, caller, target, call):
        env, inner = run.env, super().wrap(run, caller, target, call)

        def later(ctx):
            outcome = yield from inner(ctx)
            yield env.timeout(0.001)
            return outcome

        return later


class NeverBelow50ms(MyTimeout):
    """Right at 0.1 s, 0.25 s and 1 s; but never times out sooner than 50 ms."""

    def __init__(self, seconds):
        super().__init__(max(seconds, 0.05))


WRONG_POLICIES = {
    WaitsForever: "unfinished", ReportsLate: "unfinished", ErrorsBecomeTimeouts: "B answered every call with an error",
    AlwaysTimesOut: "100 timeout, 50 unfinished", TimerTooLong: "A gave up after 0.200",
    TimerTooShort: "A gave up after 0.050 to 0.050 s, not 0.1 s",
    HardCoded: "with a 0.25 s timeout (MyTimeout(0.25)), while B hangs, A gave up after 0.100 to 0.100 s",
    OtherAnswersBecomeTimeouts: "bulkhead of 3", FailuresBecomeErrors: "rejected", NonErrorsBecomeOk: "rejected",
    ShortCircuitsBecomeRejections: "open circuit breaker", AlwaysWaitsForTheTimer: "1000.0 ms at the median",
    LateByAMillisecond: "20.7 ms at the median", NeverBelow50ms: "with a 20 ms timeout (MyTimeout(0.02))",
}


@pytest.mark.parametrize("wrong", list(WRONG_POLICIES), ids=lambda c: c.__name__)
def test_each_wrong_policy_is_caught(wrong, capsys):
    with pytest.raises(CheckFailed):
        checks.check_timeout_policy(wrong)
    out = capsys.readouterr().out
    assert "FAIL  l2-timeout-policy" in out and WRONG_POLICIES[wrong] in out, out


def test_the_worlds_feed_every_kind_of_answer():
    """The check is only as good as its worlds: the crowded one must reject some calls and
    let others through, and the race must have both answers in time and late ones."""
    reference = checks._reference()
    assert reference["crowded"]["ok"] > 50 and reference["crowded"]["rejected"] > 50
    assert reference["race"]["ok"] > 100 and reference["race"]["timeout"] > 100
    runs = checks.policy_runs(MyTimeout)
    assert set(runs["open"]) == {"short-circuited"} and runs["open"]["short-circuited"] > 100
    assert runs["other_waited"] == [pytest.approx(0.25, abs=1e-9)] * 2


def test_a_policy_that_raises_names_the_run(capsys):
    class CallsTheFunction(MyTimeout):
        def wrap(self, run, caller, target, call):
            env = run.env

            def with_timeout(ctx):
                answer = env.process(call)  # not call(ctx)
                yield answer | env.timeout(self.seconds)
                return answer.value

            return with_timeout

    with pytest.raises(CheckFailed, match="in the run with B healthy and a 1 s timeout, your policy raised ValueError"):
        checks.check_timeout_policy(CallsTheFunction)


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


def exactly_k_above(samples, budget):
    """Ignores ties: looks for a sample with exactly floor(budget * n) above it."""
    allowed = math.floor(budget * len(samples) + 1e-9)
    for t in sorted(samples):
        if sum(s > t for s in samples) == allowed:
            return t
    return max(samples)


def interpolated_at_whole_counts(samples, budget):
    """Always between the right sample and the next one up: the old interval check let it through."""
    allowed = math.floor(budget * len(samples) + 1e-9)
    return float(np.percentile(samples, 100 * (1 - allowed / len(samples))))


def distinct_values(samples, budget):
    values = sorted(set(samples))
    return values[len(values) - 1 - math.floor(budget * len(values) + 1e-9)]


def truth_of_an_array(samples, budget):
    if not samples:
        raise ValueError("no samples")
    return choose_timeout(samples, budget)


WRONG_CHOOSERS = {
    p99_times_three: "returned", interpolated_percentile: "returned 0.9901",
    one_too_many: "returned 0.98", unsorted: "a shuffled list",
    the_largest: "choose_timeout(the sorted 100 samples from 0.01 to 1 s, 0.01) returned 1",
    exactly_k_above: "choose_timeout([0.08, 0.12, 0.08, 0.05, 0.08], 0.4) returned 0.12",
    interpolated_at_whole_counts: "returned 0.9901: 1 of 100 samples are above it, but 0.99 is smaller",
    distinct_values: "choose_timeout([0.3, 0.2, 0.5, 0.2], 0.25) returned 0.5",
    truth_of_an_array: "a shuffled numpy array of the 100 samples from 0.01 to 1 s, 0.25) raised ValueError",
}


@pytest.mark.parametrize("wrong", list(WRONG_CHOOSERS), ids=lambda f: f.__name__)
def test_each_wrong_chooser_is_caught(wrong, capsys):
    with pytest.raises(CheckFailed):
        checks.check_choose_timeout(wrong)
    out = capsys.readouterr().out
    assert "FAIL  l2-choose-timeout" in out and WRONG_CHOOSERS[wrong] in out, out


def numpy_sort(samples, budget):
    values = np.sort(np.asarray(samples, dtype=float))
    return values[values.size - 1 - int(np.floor(budget * values.size + 1e-9))]


def inverted_cdf(samples, budget):
    return np.quantile(samples, 1 - budget, method="inverted_cdf")


def n_largest(samples, budget):
    import heapq

    return heapq.nlargest(math.floor(budget * len(samples) + 1e-9) + 1, samples)[-1]


def by_definition(samples, budget):
    allowed = math.floor(budget * len(samples) + 1e-9)
    return min(t for t in samples if sum(s > t for s in samples) <= allowed)


@pytest.mark.parametrize("right", [numpy_sort, inverted_cdf, n_largest, by_definition], ids=lambda f: f.__name__)
def test_choosers_written_differently_pass(right):
    assert checks.check_choose_timeout(right) == 3


def test_the_choose_hint_holds_with_ties():
    """The hint once said "exactly that many above it", false when the answer ties with samples
    above it: the tie cases of the check must have fewer than k above the expected answer."""
    hint = checks.check_choose_timeout.check.hint
    assert "exactly" not in hint and "at most k" in hint
    fewer = [(s, b) for s, b, _ in checks._cases()
             if sum(v > choose_timeout(s, b) for v in s) < checks._allowed(b, len(s))]
    assert len(fewer) >= 2


def test_an_untouched_policy_fails_as_not_implemented(capsys):
    class Stub(MyTimeout):
        def wrap(self, run, caller, target, call):
            def with_timeout(ctx):
                raise NotImplementedError("write your code here")

            return with_timeout

    with pytest.raises(CheckFailed, match="not implemented"):
        checks.check_timeout_policy(Stub)
