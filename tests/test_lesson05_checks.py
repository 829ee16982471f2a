"""Exercise 5's checks pass the reference and catch the classic wrong retries."""

import random
import re
from pathlib import Path

import nbformat
import pytest

from resilience_lab.checks import CheckFailed, REGISTRY, verdict
from resilience_lab.checks import lesson05 as checks
from resilience_lab.patterns import RetryBudget
from resilience_lab.patterns.retry import decorrelated_jitter, equal_jitter, exponential, full_jitter, no_jitter

ROOT = Path(__file__).resolve().parent.parent
RETRYABLE = {"timeout", "connection", 429, 502, 503, 504}


def should_retry(error, attempts, max_attempts, *, idempotent=True, idempotency_key=None):
    """The exercise's rule (the library's ``should_retry`` has no idempotency yet)."""
    if attempts >= max_attempts or error not in RETRYABLE:
        return False
    return idempotent or idempotency_key is not None


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


def decorrelated_cap_inside(previous, rng, base, cap):
    """U(base, min(cap, 3 * previous)): in range, but never the cap itself."""
    return rng.uniform(base, min(cap, 3 * previous))


def global_random_full_jitter(retry, rng, base, cap):
    """The right distribution, drawn from the random module: a seed does not repeat it."""
    return random.uniform(0, exponential(retry, base, cap))


def own_generator_full_jitter(retry, rng, base, cap):
    """A generator of its own, seeded: the same seed gives the same delays, but so does any other seed."""
    return random.Random(retry).uniform(0, exponential(retry, base, cap))


def hard_coded_no_jitter(retry, rng, base, cap):
    return exponential(retry, 0.1, 5.0)


def hard_coded_full_jitter(retry, rng, base, cap):
    """Bounded by the lesson's 0.1 s and 5 s whatever it is given."""
    return rng.uniform(0, exponential(retry, 0.1, 5.0))


def unguarded_no_jitter(retry, rng, base, cap):
    return min(cap, base * 2.0**retry)


def retries_everything(error, attempts, max_attempts, **call):
    return attempts < max_attempts


def retries_404_too(error, attempts, max_attempts, **call):
    return should_retry(error if error != 404 else 503, attempts, max_attempts, **call)


def retries_500_too(error, attempts, max_attempts, **call):
    return should_retry(error if error != 500 else 503, attempts, max_attempts, **call)


def one_attempt_too_many(error, attempts, max_attempts, **call):
    return should_retry(error, attempts - 1, max_attempts, **call)


def ignores_idempotency(error, attempts, max_attempts, **call):
    return should_retry(error, attempts, max_attempts)


def ignores_the_key(error, attempts, max_attempts, *, idempotent=True, idempotency_key=None):
    return should_retry(error, attempts, max_attempts, idempotent=idempotent)


def three_arguments_only(error, attempts, max_attempts):
    return should_retry(error, attempts, max_attempts)


def retry_raising_on_strings(error, attempts, max_attempts, **call):
    return error + 0 < 500 and attempts < max_attempts


class NoBudget:
    def __init__(self, ratio, window, min_per_second):
        pass

    def record_request(self, now):
        pass

    def try_retry(self, now):
        return True


class BudgetThatNeverForgets(RetryBudget):
    """Counts requests and retries since the start, not in the window: a burst of
    old requests keeps allowing retries long after, and old retries keep refusing them."""

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


class BudgetOffByOne(RetryBudget):
    """``retries + 1 < allowance``: one retry short whenever the allowance is whole."""

    def try_retry(self, now):
        number, slot = self._slot(now)
        requests, retries = self._recent(number)
        if retries + 1 < self.ratio * requests + self.min_per_second * self.window:
            slot[2] += 1
            return True
        return False


class BudgetCountingRefusals(RetryBudget):
    def try_retry(self, now):
        number, slot = self._slot(now)
        requests, retries = self._recent(number)
        slot[2] += 1
        return retries + 1 <= self.ratio * requests + self.min_per_second * self.window


class BudgetFloorOrRatio(RetryBudget):
    """max(ratio * requests, floor) instead of their sum."""

    def try_retry(self, now):
        number, slot = self._slot(now)
        requests, retries = self._recent(number)
        if retries + 1 <= max(self.ratio * requests, self.min_per_second * self.window):
            slot[2] += 1
            return True
        return False


class BudgetRaisingLate(RetryBudget):
    def try_retry(self, now):
        if now >= 30:
            raise KeyError("bucket")
        return super().try_retry(now)


def frozen_full_jitter(retry, rng, base, cap):
    """Draws from a fresh generator with a fixed seed: every client the same delay."""
    return random.Random(0).uniform(0, exponential(retry, base, cap))


def full_jitter_raising_late(retry, rng, base, cap):
    if retry >= 3:
        raise ZeroDivisionError("float division by zero")
    return full_jitter(retry, rng, base, cap)


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


def test_decorrelated_jitter_that_never_reaches_the_cap_fails_on_the_capped_case():
    checks.check_limits(no_jitter, full_jitter, equal_jitter, decorrelated_cap_inside)  # in range...
    with pytest.raises(CheckFailed, match=r"decorrelated_jitter\(3, rng, 0.1, 5\): 0 of 2000 delays were the cap"):
        checks.check_distributions(full_jitter, equal_jitter, decorrelated_cap_inside)


def test_hard_coded_base_and_cap_fail_at_other_settings():
    with pytest.raises(CheckFailed, match=r"no_jitter\(0, rng, 0.02, 1.5\) returned 0.1, expected 0.02"):
        checks.check_limits(hard_coded_no_jitter, full_jitter, equal_jitter, decorrelated_jitter)
    with pytest.raises(CheckFailed, match=r"full_jitter\(\d+, rng, 0.02, 1.5\) returned .* outside"):
        checks.check_limits(no_jitter, hard_coded_full_jitter, equal_jitter, decorrelated_jitter)
    # bounded by the lesson's values, it is too short at base 0.25, cap 30: the distribution says so
    with pytest.raises(CheckFailed, match=r"full_jitter\(2, rng, 0.25, 30\).*do not follow U\(0, 1\)"):
        checks.check_distributions(hard_coded_full_jitter, equal_jitter, decorrelated_jitter)


def test_drawing_from_the_random_module_fails_reproducibility():
    random.seed(1)
    checks.check_limits(no_jitter, global_random_full_jitter, equal_jitter, decorrelated_jitter)  # in range...
    with pytest.raises(CheckFailed, match=r"full_jitter\(3, rng, 0.1, 5\) with rng = random.Random\(7\), twice"):
        checks.check_distributions(global_random_full_jitter, equal_jitter, decorrelated_jitter)


def test_a_generator_of_its_own_fails_reproducibility():
    with pytest.raises(CheckFailed, match=r"same 20 delays with rng = random.Random\(7\) and random.Random\(8\)"):
        checks.check_distributions(own_generator_full_jitter, equal_jitter, decorrelated_jitter)


def test_a_call_that_raises_is_named():
    with pytest.raises(CheckFailed, match=r"no_jitter\(1024, rng, 0.1, 5\) \(a huge retry number\) raised "
                                          r"OverflowError"):
        checks.check_limits(unguarded_no_jitter, full_jitter, equal_jitter, decorrelated_jitter)
    with pytest.raises(CheckFailed, match=r"full_jitter\(3, rng, 0.1, 5\) raised ZeroDivisionError: float division"):
        checks.check_herd(no_jitter, full_jitter_raising_late)
    with pytest.raises(CheckFailed, match=r"should_retry\('timeout', 1, 3\) raised TypeError"):
        checks.check_what_to_retry(retry_raising_on_strings)
    with pytest.raises(CheckFailed,
                       match=r"3\. try_retry\(30\) three times.*: try_retry\(30\) raised KeyError: 'bucket'"):
        checks.check_budget(BudgetRaisingLate)


@pytest.mark.parametrize("wrong, message", [
    (retries_everything, r"should_retry\(400, 1, 3\) returned True, expected False: 400 Bad Request"),
    (retries_404_too, r"should_retry\(404, 1, 3\) returned True"),
    (retries_500_too, r"should_retry\(500, 1, 3\) returned True"),
    (one_attempt_too_many, r"should_retry\('timeout', 3, 3\) returned True.*3 attempts were made"),
    (ignores_idempotency, r"should_retry\('timeout', 1, 3, idempotent=False\) returned True"),
    (ignores_the_key, r"idempotent=False, idempotency_key='order-42'\) returned False, expected True"),
    (three_arguments_only, r"should_retry\('timeout', 1, 3, idempotent=True\) raised TypeError"),
])
def test_retrying_the_wrong_errors_or_too_often_fails(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        checks.check_what_to_retry(wrong)


def test_the_exercise_and_the_lesson_name_every_error_the_check_tests_and_no_other():
    tested = set(checks.RETRY) | set(checks.NO_RETRY)
    assert {e for e in tested if should_retry(e, 1, 3)} == set(checks.RETRY)
    solution = {c.id: c.source for c in nbformat.read(ROOT / "solutions" / "05-retries.ipynb", as_version=4).cells}
    lesson = {c.id: c.source for c in nbformat.read(ROOT / "notebooks" / "05-retries.ipynb", as_version=4).cells}
    for text in (solution["cell-09"], lesson["cell-10"]):
        named = {int(n) for n in re.findall(r"\b[1-5]\d\d\b", text)}
        assert named == {e for e in tested if isinstance(e, int)}
        assert "timeout" in text and "connection" in text and "rejected" in text.replace("rejection", "rejected")
        assert "idempotency key" in text.replace("idempotency_key", "idempotency key") and "Lesson 6" in text


@pytest.mark.parametrize("wrong, step", [
    (NoBudget, "1. 4 requests"), (BudgetThatForgetsToCount, "1. 4 requests"), (BudgetOffByOne, "1. 4 requests"),
    (BudgetFloorOrRatio, "1. 4 requests"), (BudgetCountingRefusals, "2. 3 more requests"),
    (BudgetThatNeverForgets, "3. try_retry\\(30\\)"),
])
def test_budgets_that_get_the_small_case_wrong_fail_at_the_step(wrong, step):
    with pytest.raises(CheckFailed, match=step + ".*try_retry returned"):
        checks.check_budget(wrong)


@pytest.mark.parametrize("buckets", [1, 2, 5, 10, 20, 100])
def test_the_small_budget_case_is_what_the_library_budget_answers(buckets):
    """The hand-worked answers are the library's, with a window kept in any number of buckets."""
    budget = RetryBudget(**checks.BUDGET_SETTINGS, buckets=buckets)
    for _, steps, expected, _ in checks.BUDGET_SCRIPT:
        answers = [budget.record_request(now) if step == "request" else budget.try_retry(now) for step, now in steps]
        assert [a for (step, _), a in zip(steps, answers) if step == "retry"] == expected


def test_an_untouched_stub_is_not_implemented_yet():
    def stub(*args, **kwargs):
        raise NotImplementedError("write this")

    class Stub:
        def __init__(self, ratio, window, min_per_second):
            pass

        record_request = try_retry = stub

    for check, args in [("l5-limits", [stub] * 4), ("l5-distributions", [stub] * 3), ("l5-herd", [stub] * 2),
                        ("l5-what-to-retry", [stub]), ("l5-budget", [Stub])]:
        assert verdict(REGISTRY[check].body, *args)[1].startswith("not implemented yet"), check


def test_jitter_that_does_not_spread_the_herd_fails():
    with pytest.raises(CheckFailed, match="must cut it"):
        checks.check_herd(no_jitter, frozen_full_jitter)
