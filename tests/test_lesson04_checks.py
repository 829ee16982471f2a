"""Exercise 4's checks pass the reference and catch the classic wrong bulkheads."""

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
