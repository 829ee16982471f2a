"""Exercise 4's checks pass the reference and catch the classic wrong bulkheads."""

import math
import threading

import numpy as np
import pytest

from resilience_lab.checks import CheckFailed
from resilience_lab.checks import lesson04 as checks
from resilience_lab.outcomes import Outcome
from resilience_lab.patterns import Bulkhead, call_with_bulkhead, partition_size


def waits_for_a_permit(bulkhead, call, clock):
    """The source lesson's sketch: no free slot, so wait (until the caller gives up)."""
    while not bulkhead.try_acquire(clock()):
        yield "waiting for a slot"
    try:
        return (yield from call())
    finally:
        bulkhead.release(clock())


def leaks_on_timeout(bulkhead, call, clock):
    """Releases on an answer and on `except Exception`, but a cancellation (a
    BaseException, as asyncio's) skips both."""
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    try:
        outcome = yield from call()
    except Exception:
        bulkhead.release(clock())
        raise
    bulkhead.release(clock())
    return outcome


def leaks_on_errors(bulkhead, call, clock):
    """No `finally`: an exception from the call skips the release."""
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    outcome = yield from call()
    bulkhead.release(clock())
    return outcome


def forgets_to_count(bulkhead, call, clock):
    if not bulkhead.try_acquire(clock()):
        return Outcome.REJECTED
    try:
        return (yield from call())
    finally:
        bulkhead.release(clock())


class NeverFull(Bulkhead):
    def try_acquire(self, now):
        self.in_use += 1
        return True


def test_the_reference_passes_every_check(capsys):
    checks.check_permits(Bulkhead)
    checks.check_reject_fast(Bulkhead, call_with_bulkhead)
    checks.check_no_leak(Bulkhead, call_with_bulkhead)
    checks.check_sizing(partition_size)
    checks.check_isolation(Bulkhead, call_with_bulkhead, partition_size)
    assert capsys.readouterr().out.count("PASS") == 5


def test_a_bulkhead_that_waits_forever_fails():
    with pytest.raises(CheckFailed, match="waited"):
        checks.check_reject_fast(Bulkhead, waits_for_a_permit)


def test_a_rejection_not_counted_fails():
    with pytest.raises(CheckFailed, match="counts 0 rejections"):
        checks.check_reject_fast(Bulkhead, forgets_to_count)


def test_a_permit_leak_on_timeout_fails():
    with pytest.raises(CheckFailed, match="abandoned.*leaked"):
        checks.check_no_leak(Bulkhead, leaks_on_timeout)


def test_a_permit_leak_on_an_exception_fails():
    with pytest.raises(CheckFailed, match="raised.*leaked"):
        checks.check_no_leak(Bulkhead, leaks_on_errors)


def test_a_bulkhead_with_no_limit_fails():
    with pytest.raises(CheckFailed, match=r"\[True, True, True, True\]"):
        checks.check_permits(NeverFull)


def test_sizing_that_rounds_down_fails():
    with pytest.raises(CheckFailed, match="partition_size"):
        checks.check_sizing(lambda rate, latency, headroom=2: int(rate * latency * headroom))


def test_partitions_too_small_for_profile_fail():
    with pytest.raises(CheckFailed, match="too few"):
        checks.check_isolation(Bulkhead, call_with_bulkhead, lambda rate, latency, headroom=2: 3)


def test_a_call_path_that_ignores_the_bulkhead_fails():
    def unguarded(bulkhead, call, clock):
        return (yield from call())

    with pytest.raises(CheckFailed, match="two calls in flight"):
        checks.check_reject_fast(Bulkhead, unguarded)


# -- what the mutation suite (tests/mutations/ex04.py) found the checks missing --------
def shared_permits():
    """A bulkhead class keeping its permits in a list on the class: every bulkhead shares them."""

    class SharedPermits(Bulkhead):
        permits = []
        in_use = property(lambda self: len(self.permits), lambda self, value: None)

        def try_acquire(self, now):
            if len(self.permits) < self.max_concurrent:
                self.permits.append(now)
                return True
            return False

        def release(self, now):
            self.permits.pop()

    return SharedPermits


def releases_what_it_never_took(bulkhead, call, clock):
    """The `try` opened before try_acquire: a rejected call releases a permit too."""
    try:
        if not bulkhead.try_acquire(clock()):
            bulkhead.reject(clock())
            return Outcome.REJECTED
        return (yield from call())
    finally:
        bulkhead.release(clock())


def drops_the_outcome(bulkhead, call, clock):
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    try:
        yield from call()
    finally:
        bulkhead.release(clock())


def always_ok(bulkhead, call, clock):
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    try:
        yield from call()
        return Outcome.OK
    finally:
        bulkhead.release(clock())


def calls_after_rejecting(bulkhead, call, clock):
    acquired = bulkhead.try_acquire(clock())
    if not acquired:
        bulkhead.reject(clock())
    try:
        return (yield from call())
    finally:
        if acquired:
            bulkhead.release(clock())


def releases_twice_on_errors(bulkhead, call, clock):
    if not bulkhead.try_acquire(clock()):
        bulkhead.reject(clock())
        return Outcome.REJECTED
    try:
        return (yield from call())
    except Exception:
        bulkhead.release(clock())
        raise
    finally:
        bulkhead.release(clock())


class NoFloor(Bulkhead):
    """The exercise's solution: release does not refuse a permit given back twice."""

    def release(self, now):
        self.in_use -= 1


class SemaphoreBulkhead:
    """Thread-safe: a BoundedSemaphore holds the permits."""

    def __init__(self, max_concurrent):
        self.max_concurrent = max_concurrent
        self._permits = threading.BoundedSemaphore(max_concurrent)
        self.in_use = self.rejected = 0

    def try_acquire(self, now):
        if not self._permits.acquire(blocking=False):
            return False
        self.in_use += 1
        return True

    def release(self, now):
        self._permits.release()
        self.in_use -= 1

    def reject(self, now):
        self.rejected += 1


class LockedBulkhead(Bulkhead):
    """Thread-safe: a Lock around the counter."""

    def __init__(self, max_concurrent):
        super().__init__(max_concurrent)
        self._lock = threading.Lock()

    def try_acquire(self, now):
        with self._lock:
            return super().try_acquire(now)

    def release(self, now):
        with self._lock:
            super().release(now)


def test_bulkheads_sharing_their_permits_fail():
    with pytest.raises(CheckFailed, match=r"new Bulkhead\(1\) has in_use 3.*its own permits"):
        checks.check_permits(shared_permits())


def test_a_rejected_call_that_releases_a_permit_fails():
    with pytest.raises(CheckFailed, match="in_use is 1, expected 2: a rejected call took no permit"):
        checks.check_reject_fast(Bulkhead, releases_what_it_never_took)


@pytest.mark.parametrize("path, answer, got", [(drops_the_outcome, "OK", "None"),
                                               (always_ok, "ERROR", "<Outcome.OK: 0>")])
def test_a_call_path_that_loses_the_outcome_fails(path, answer, got):
    with pytest.raises(CheckFailed, match=f"a call answering Outcome.{answer} .* returned {got}"):
        checks.check_reject_fast(Bulkhead, path)


def test_a_call_sent_without_a_permit_fails_as_sent():
    with pytest.raises(CheckFailed, match="no permit was free, but the call was still sent"):
        checks.check_reject_fast(Bulkhead, calls_after_rejecting)


@pytest.mark.parametrize("Counter", [Bulkhead, NoFloor], ids=["release-refuses", "release-goes-negative"])
def test_a_double_release_is_not_called_a_leak(Counter):
    with pytest.raises(CheckFailed, match="raised in_use went from 2 to 0: the permit was given back more than once"):
        checks.check_no_leak(Counter, releases_twice_on_errors)


def test_a_wrong_default_headroom_fails():
    with pytest.raises(CheckFailed, match=r"partition_size\(150, 0.047\) returned 8, expected 15"):
        checks.check_sizing(lambda rate, latency, headroom=1: math.ceil(rate * latency * headroom))


@pytest.mark.parametrize("size", [lambda r, w, h=2: np.int64(math.ceil(r * w * h)),
                                  lambda r, w, h=2: np.ceil(np.float64(r) * w * h),
                                  lambda r, w, h=2: float(math.ceil(r * w * h))],
                         ids=["int64", "float64", "float"])
def test_sizes_as_numpy_or_integral_floats_pass_sizing_and_isolation(size, capsys):
    checks.check_sizing(size)
    checks.check_isolation(Bulkhead, call_with_bulkhead, size)
    assert capsys.readouterr().out.count("PASS") == 2


def test_a_size_not_rounded_fails_sizing_and_isolation_alike():
    size = lambda rate, latency, headroom=2: rate * latency * headroom  # noqa: E731
    for check, args in ((checks.check_sizing, ()), (checks.check_isolation, (Bulkhead, call_with_bulkhead))):
        with pytest.raises(CheckFailed, match=r"partition_size\(150.*\) returned 14.1, expected a whole number"):
            check(*args, size)


@pytest.mark.parametrize("Counter", [SemaphoreBulkhead, LockedBulkhead])
def test_thread_safe_bulkheads_pass_every_check(Counter, capsys):
    checks.check_permits(Counter)
    checks.check_reject_fast(Counter, call_with_bulkhead)
    checks.check_no_leak(Counter, call_with_bulkhead)
    checks.check_isolation(Counter, call_with_bulkhead, partition_size)
    assert capsys.readouterr().out.count("PASS") == 4


def test_one_count_for_every_bulkhead_fails_isolation():
    class OneCount(Bulkhead):
        count = 0
        in_use = property(lambda self: OneCount.count, lambda self, value: None)

        def try_acquire(self, now):
            if OneCount.count < self.max_concurrent:
                OneCount.count += 1
                return True
            return False

        def release(self, now):
            OneCount.count -= 1

    with pytest.raises(CheckFailed, match="shares its permits with payment's"):
        checks.check_isolation(OneCount, call_with_bulkhead, partition_size)
