"""Exercise 5's checks pass the reference and catch the classic wrong retries."""

import pytest

from resilience_lab.checks import CheckFailed
from resilience_lab.checks import lesson05 as checks
from resilience_lab.patterns import RetryBudget, should_retry
from resilience_lab.patterns.retry import decorrelated_jitter, equal_jitter, exponential, full_jitter, no_jitter


def source_lesson_jitter(retry, rng, base, cap):
    """The source lesson's `base + U(0, base/2)`: neither Full nor Equal Jitter."""
    v = exponential(retry, base, cap)
    return v + rng.uniform(0, v / 2)


def skewed_full_jitter(retry, rng, base, cap):
    """In range, but not uniform: most delays crowd near 0."""
    return exponential(retry, base, cap) * rng.random() ** 2


def uncapped_full_jitter(retry, rng, base, cap):
    return rng.uniform(0, base * 2**retry)


def decorrelated_from_base(previous, rng, base, cap):
    """Forgets the previous delay: U(base, 3 * base) every time."""
    return min(cap, rng.uniform(base, 3 * base))


def retries_everything(error, attempts, max_attempts):
    return attempts < max_attempts


def retries_404_too(error, attempts, max_attempts):
    return attempts < max_attempts and error in {"timeout", "connection", 503, 429, 404}


def one_attempt_too_many(error, attempts, max_attempts):
    return attempts <= max_attempts and error in {"timeout", "connection", 503, 429}


class NoBudget:
    def __init__(self, ratio, window, min_per_second):
        pass

    def record_request(self, now):
        pass

    def try_retry(self, now):
        return True


class BudgetThatNeverForgets(RetryBudget):
    """Counts requests since the start, not in the window: a fine ratio overall, but
    after a quiet period it allows a burst. Here it is its retries it never forgets."""

    def try_retry(self, now):
        if self.retries + 1 <= self.ratio * self.requests + self.min_per_second * self.window:
            self.retries += 1
            return True
        return False


class BudgetThatForgetsToCount(RetryBudget):
    def try_retry(self, now):
        number, slot = self._slot(now)
        requests, retries = self._recent(number)
        return retries + 1 <= self.ratio * requests + self.min_per_second * self.window


def frozen_full_jitter(retry, rng, base, cap):
    """Draws from a fresh generator with a fixed seed: every client the same delay."""
    import random

    return random.Random(0).uniform(0, exponential(retry, base, cap))


def test_the_reference_passes_every_check(capsys):
    checks.check_limits(no_jitter, full_jitter, equal_jitter, decorrelated_jitter)
    checks.check_distributions(full_jitter, equal_jitter, decorrelated_jitter)
    checks.check_what_to_retry(should_retry)
    checks.check_budget(RetryBudget)
    checks.check_herd(no_jitter, full_jitter)
    assert capsys.readouterr().out.count("PASS") == 5


def test_the_source_lessons_jitter_fails_as_full_and_as_equal_jitter():
    with pytest.raises(CheckFailed, match="outside"):
        checks.check_limits(no_jitter, source_lesson_jitter, equal_jitter, decorrelated_jitter)
    with pytest.raises(CheckFailed, match="outside"):
        checks.check_limits(no_jitter, full_jitter, source_lesson_jitter, decorrelated_jitter)
    with pytest.raises(CheckFailed, match="do not follow"):
        checks.check_distributions(full_jitter, source_lesson_jitter, decorrelated_jitter)


def test_a_skewed_jitter_in_range_fails_the_distribution_check():
    checks.check_limits(no_jitter, skewed_full_jitter, equal_jitter, decorrelated_jitter)  # in range...
    with pytest.raises(CheckFailed, match="full_jitter.*do not follow"):
        checks.check_distributions(skewed_full_jitter, equal_jitter, decorrelated_jitter)


def test_an_uncapped_jitter_fails():
    with pytest.raises(CheckFailed, match="outside"):
        checks.check_limits(no_jitter, uncapped_full_jitter, equal_jitter, decorrelated_jitter)


def test_decorrelated_jitter_that_ignores_the_previous_delay_fails():
    with pytest.raises(CheckFailed, match="decorrelated_jitter.*do not follow"):
        checks.check_distributions(full_jitter, equal_jitter, decorrelated_from_base)


@pytest.mark.parametrize("wrong, message", [(retries_everything, "400"), (retries_404_too, "404"),
                                            (one_attempt_too_many, "3 attempts were made")])
def test_retrying_the_wrong_errors_or_too_often_fails(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_what_to_retry(wrong)


@pytest.mark.parametrize("wrong, message", [(NoBudget, "allowed"), (BudgetThatForgetsToCount, "allowed"),
                                            (BudgetThatNeverForgets, "allowed")])
def test_budgets_that_do_not_bound_retries_fail(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_budget(wrong)


def test_jitter_that_does_not_spread_the_herd_fails():
    with pytest.raises(CheckFailed, match="must cut it"):
        checks.check_herd(no_jitter, frozen_full_jitter)
