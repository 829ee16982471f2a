"""Exercise 6's checks pass the reference and catch the classic wrong fallbacks, queues and receivers."""

import math
import re
from collections import deque

import pytest

from resilience_lab.checks import REGISTRY, verdict
from resilience_lab.checks import lesson06 as checks
from resilience_lab.lessons import fallbacks, orders
from resilience_lab.patterns import FallbackChain, IdempotentReceiver, WriteQueue

CHAIN_CHECKS = ["l6-chain", "l6-availability", "l6-max-age", "l6-critical"]


def body(check_id):
    return REGISTRY[check_id].body


# -- chains written wrong, each in one way ------------------------------------------------------
class Chain:
    """The exercise's chain, with hooks for the mistakes below."""

    def __init__(self, max_age, default=None, critical=False):
        self.max_age, self.default, self.critical = max_age, default, critical
        self.cache = {}

    def remember(self, now, key, value):
        self.cache[key] = (now, value)

    def fresh_enough(self, age):
        return age <= self.max_age

    def serve(self, now, key, call):
        try:
            value = call()
        except Exception:
            return self.fall_back(now, key, call)
        self.remember(now, key, value)
        return ("fresh", value, 0)

    def fall_back(self, now, key, call):
        if self.critical:
            return ("failed", None, None)
        if key in self.cache:
            stored_at, value = self.cache[key]
            if self.fresh_enough(now - stored_at):
                return ("cache", value, now - stored_at)
        if self.default is not None:
            return ("default", self.default, None)
        return ("degraded", None, None)


class CacheOfAnyAge(Chain):
    def fresh_enough(self, age):
        return True


class OneSlotCache(Chain):
    """Remembers the last answer, whatever product it was for."""

    def remember(self, now, key, value):
        self.cache = {"last": (now, value)}

    def fall_back(self, now, key, call):
        self.cache[key] = self.cache.get("last", (math.inf, None))
        return super().fall_back(now, key, call)


class AsksAgain(Chain):
    """Retries the failing dependency once before falling back."""

    def fall_back(self, now, key, call):
        try:
            value = call()
        except Exception:
            return super().fall_back(now, key, call)
        self.remember(now, key, value)
        return ("fresh", value, 0)


class MasksTheCritical(Chain):
    """Ignores `critical`: a stale price is served as if all were well."""

    def __init__(self, max_age, default=None, critical=False):
        super().__init__(max_age, default, False)


class PropagatesWhenStale(Chain):
    """After the cache: the error, unless there is a default (no degraded page)."""

    def fall_back(self, now, key, call):
        answer = super().fall_back(now, key, call)
        return ("failed", None, None) if answer[0] == "degraded" else answer


class DefaultFirst(Chain):
    def fall_back(self, now, key, call):
        if not self.critical and self.default is not None:
            return ("default", self.default, None)
        return super().fall_back(now, key, call)


class KeepsTheFirstAnswer(Chain):
    """Caches a key's first answer and never refreshes it."""

    def remember(self, now, key, value):
        self.cache.setdefault(key, (now, value))


class AgeFromTheWrongEnd(Chain):
    """Reports how much longer the data may be served, not how old it is."""

    def fall_back(self, now, key, call):
        answer = super().fall_back(now, key, call)
        if answer[0] == "cache":
            return ("cache", answer[1], self.max_age - answer[2])
        return answer


class SharedCache(Chain):
    cache = {}

    def __init__(self, max_age, default=None, critical=False):
        self.max_age, self.default, self.critical = max_age, default, critical


def test_the_reference_chain_passes_every_chain_check():
    for check in CHAIN_CHECKS:
        assert verdict(body(check), FallbackChain) == (True, ""), check


@pytest.mark.parametrize("wrong, check, message", [
    (CacheOfAnyAge, "l6-chain", r"serve\(31, 'p1', call\).*returned \('cache', 'p1@0', 31\), expected \('default'"),
    (CacheOfAnyAge, "l6-max-age", r"data 1\d\d\.\d s old was served from the cache, older than max_age = 10"),
    (OneSlotCache, "l6-chain", r"serve\(45, 'p1', call\).*returned \('cache', 'p2@40', 5\)"),
    (OneSlotCache, "l6-max-age", r"another product's data"),
    (AsksAgain, "l6-chain", r"call\(\) was called 2 times, expected once: never ask a failing dependency again"),
    (MasksTheCritical, "l6-critical", r"pages were served anyway"),
    (MasksTheCritical, "l6-chain", r"serve\(71, 'p3', call\).*expected \('failed', None, None\)"),
    (PropagatesWhenStale, "l6-availability", r"while reviews was down for 90 s .* were served"),
    (DefaultFirst, "l6-chain", r"serve\(10, 'p1', call\).*returned \('default', 'unavailable', None\)"),
    (DefaultFirst, "l6-max-age", r"only \d+ answers came from the cache"),
    (KeepsTheFirstAnswer, "l6-max-age", r"only \d+ answers came from the cache"),
    (AgeFromTheWrongEnd, "l6-max-age", r"gave a wrong age"),
    (SharedCache, "l6-chain", r"serve\(62, 'p2', call\).*every chain has its own cache"),
])
def test_wrong_chains_fail_the_check_that_names_their_mistake(wrong, check, message):
    passed, why = verdict(body(check), wrong)
    assert not passed and re.search(message, why, re.S), why


# -- queues and receivers written wrong ------------------------------------------------------------
class DropsWhenFull(WriteQueue):
    def accept(self, now, key, request):
        super().accept(now, key, request)
        return True


class Unbounded(WriteQueue):
    def __init__(self, capacity):
        super().__init__(10**9)


class PopsOnNext:
    """Takes the write out of the queue when it is sent: a failed send loses it."""

    def __init__(self, capacity):
        self.capacity, self.waiting = capacity, deque()

    def accept(self, now, key, request):
        if any(k == key for k, _ in self.waiting):
            return True
        if len(self.waiting) >= self.capacity:
            return False
        self.waiting.append((key, request))
        return True

    def next(self, now):
        return self.waiting.popleft() if self.waiting else None

    def done(self, now, key):
        pass

    def failed(self, now, key):
        pass


class QueuesRetriesTwice(WriteQueue):
    def accept(self, now, key, request):
        if key in self._held:
            key = (key, now)
        return super().accept(now, key, request)


class ForgetsKeys:
    """No memory of keys: every retry charges again."""

    def handle(self, key, request, work):
        return work(request)


class DedupesOnTheRequest(IdempotentReceiver):
    def handle(self, key, request, work):
        return super().handle(request, request, work)


class RemembersBeforeWorking:
    def __init__(self):
        self.results = {}

    def handle(self, key, request, work):
        if key in self.results:
            return self.results[key]
        self.results[key] = None
        self.results[key] = work(request)
        return self.results[key]


class ForgetsTheResult:
    def __init__(self):
        self.seen = set()

    def handle(self, key, request, work):
        if key in self.seen:
            return None
        self.seen.add(key)
        return work(request)


def test_the_reference_queue_and_receiver_pass():
    assert verdict(body("l6-queue"), WriteQueue) == (True, "")
    assert verdict(body("l6-idempotency"), IdempotentReceiver) == (True, "")
    assert verdict(body("l6-exactly-once"), WriteQueue, IdempotentReceiver) == (True, "")


@pytest.mark.parametrize("wrong, message", [
    (DropsWhenFull, r"accept\(2, 'd', 'D'\) returned True, expected False"),
    (Unbounded, r"accept\(2, 'd', 'D'\) returned True, expected False"),
    (QueuesRetriesTwice, r"accept\(3, 'a', 'A'\) returned False, expected True"),
    (PopsOnNext, r"accept\(5, 'e', 'E'\) returned True, expected False.*in flight are still held"),
])
def test_wrong_queues_fail_the_queue_script_at_the_step(wrong, message):
    passed, why = verdict(body("l6-queue"), wrong)
    assert not passed and re.search(message, why, re.S), why


@pytest.mark.parametrize("wrong, message", [
    (ForgetsKeys, r"handle\('k1'.*returned 'receipt-2'.*expected 'receipt-1' and once"),
    (DedupesOnTheRequest, r"handle\('k2'.*returned 'receipt-1'.*expected 'receipt-2'"),
    (RemembersBeforeWorking, r"handle\('k3'.*returned None.*expected 'receipt-3'"),
    (ForgetsTheResult, r"handle\('k1'.*returned None.*expected 'receipt-1'"),
])
def test_wrong_receivers_fail_the_receiver_script_at_the_step(wrong, message):
    passed, why = verdict(body("l6-idempotency"), wrong)
    assert not passed and re.search(message, why, re.S), why


@pytest.mark.parametrize("queue, receiver, message", [
    (DropsWhenFull, IdempotentReceiver, r"capacity 100.*accepted \(202\) and never charged"),
    (PopsOnNext, IdempotentReceiver, r"accepted \(202\) and never charged"),
    (WriteQueue, ForgetsKeys, r"charged more than once \(order-\d+ 2 times"),
    (WriteQueue, DedupesOnTheRequest, r"accepted \(202\) and never charged"),
])
def test_orders_lost_or_charged_twice_fail_exactly_once(queue, receiver, message):
    passed, why = verdict(body("l6-exactly-once"), queue, receiver)
    assert not passed and re.search(message, why), why


def test_a_queue_that_refuses_everything_is_not_exactly_once():
    class Refuses(WriteQueue):
        def accept(self, now, key, request):
            return False

    passed, why = verdict(body("l6-exactly-once"), Refuses, IdempotentReceiver)
    assert not passed and "refused while the queue had room" in why


def test_the_orders_run_really_retries_and_loses_answers():
    """The exactly-once check is only worth its points if its runs make duplicates happen:
    without keys the same runs charge orders twice, and the flap loses answers."""
    for _, options in checks.ORDER_RUNS:
        run = orders.order_run(WriteQueue(options["capacity"]), orders.NoKeys(),
                               **{**checks.ORDER_OPTIONS, **{k: v for k, v in options.items() if k != "capacity"}})
        assert len(run.twice) >= 20
        assert run.sends > len(run.accepted_at)  # some sends failed and went again


def test_an_untouched_stub_is_not_implemented_yet():
    def stub(*args, **kwargs):
        raise NotImplementedError("write this")

    class Stub:
        def __init__(self, *args):
            pass

        serve = accept = next = done = failed = handle = stub

    for check in [*CHAIN_CHECKS, "l6-queue", "l6-idempotency"]:
        assert verdict(body(check), Stub)[1].startswith("not implemented yet"), check
    assert verdict(body("l6-exactly-once"), Stub, Stub)[1].startswith("not implemented yet")


def test_the_page_harness_judges_by_the_data_not_by_what_the_chain_says():
    """A chain that labels stale data 'fresh' is caught, whatever age it claims."""

    class CallsStaleFresh(Chain):
        def fall_back(self, now, key, call):
            answer = super().fall_back(now, key, call)
            return ("fresh", answer[1], 0) if answer[0] == "cache" else answer

    passed, why = verdict(body("l6-max-age"), CallsStaleFresh)
    assert not passed and "s old as 'fresh'" in why


def test_the_standard_chains_keep_the_page_up_and_fail_it_when_the_price_is_down():
    run = fallbacks.page_run(down="reviews")
    assert fallbacks.availability(run) == 1.0 and fallbacks.degraded_share(run) == 1.0
    assert fallbacks.availability(fallbacks.page_run(down="price")) == 0.0
