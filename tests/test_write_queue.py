"""Queue for later and the idempotent receiver: nothing lost, nothing done twice."""

import pytest

from resilience_lab.patterns import IdempotentReceiver, WriteQueue


def test_a_full_queue_refuses_and_says_so_and_a_retried_key_is_held_once():
    queue = WriteQueue(capacity=2)
    assert [queue.accept(0, k, f"order {k}") for k in ("a", "b", "c")] == [True, True, False]
    assert queue.accept(1, "a", "order a") is True  # the client retried: already held
    assert len(queue) == 2 and (queue.accepted, queue.refused, queue.duplicates) == (2, 1, 1)


def test_writes_leave_the_queue_only_when_done_and_a_failed_one_goes_next():
    queue = WriteQueue(capacity=3)
    for key in "abc":
        queue.accept(0, key, key.upper())
    assert queue.next(1) == ("a", "A") and queue.next(1) == ("b", "B")
    assert len(queue) == 3 and queue.in_flight == 2  # in flight is still held
    assert queue.accept(1, "d", "D") is False  # so the queue is still full
    queue.failed(2, "a")
    assert queue.next(2) == ("a", "A")  # a failed write goes back to the front
    queue.done(3, "a")
    queue.done(3, "b")
    assert len(queue) == 1 and queue.next(4) == ("c", "C") and queue.next(4) is None
    assert queue.accept(5, "a", "A") is True  # a done key is forgotten: a late retry is queued again


@pytest.mark.parametrize("call, words", [
    (lambda q: q.done(0, "x"), "'x' is not in flight"),
    (lambda q: q.failed(0, "x"), "'x' is not in flight"),
    (lambda q: q.accept(0, None, "r"), "idempotency key"),
])
def test_misuse_is_refused_by_value(call, words):
    queue = WriteQueue(capacity=1)
    queue.accept(0, "x", "r")
    with pytest.raises(ValueError, match=words):
        call(queue)


@pytest.mark.parametrize("capacity", [-1, 1.5, True, "10"])
def test_bad_capacities_are_refused_by_value(capacity):
    with pytest.raises(ValueError, match=f"capacity.*{capacity!r}"):
        WriteQueue(capacity)


def test_the_receiver_does_each_keys_work_once_and_repeats_its_first_result():
    charges = []

    def charge(request):
        charges.append(request)
        return f"receipt {len(charges)}"

    receiver = IdempotentReceiver()
    assert receiver.handle("k1", "9.99", charge) == "receipt 1"
    assert receiver.handle("k1", "9.99", charge) == "receipt 1"
    assert receiver.handle("k2", "9.99", charge) == "receipt 2"  # same request, another key: another order
    assert charges == ["9.99", "9.99"] and (receiver.processed, receiver.duplicates) == (2, 1)


def test_work_that_raised_was_not_done_and_runs_again():
    attempts = []

    def flaky(request):
        attempts.append(request)
        if len(attempts) == 1:
            raise ConnectionError("reset")
        return "ok"

    receiver = IdempotentReceiver()
    with pytest.raises(ConnectionError):
        receiver.handle("k", "r", flaky)
    assert receiver.handle("k", "r", flaky) == "ok" and len(attempts) == 2
