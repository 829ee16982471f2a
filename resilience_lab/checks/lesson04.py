"""Graded checks of exercise 4: the bulkhead.

The student writes a ``Bulkhead`` class (``try_acquire(now)``, ``release(now)``,
``reject(now)``, counters ``in_use`` and ``rejected``), the call path
``call_with_bulkhead(bulkhead, call, clock)`` (a generator) and
``partition_size(rate, latency, headroom)``.

The call path is driven here by hand, as an event loop would: ``call`` is a
generator function whose ``yield`` stands for "waiting on the network". A call
that *yields before calling* is waiting for a permit, which a bulkhead that
rejects must never do. A caller's timeout is a :class:`CallAbandoned` thrown
into the generator while the call is in flight (what ``asyncio.wait_for`` does
with ``CancelledError``).

The isolation check runs the lesson's world (payment hangs for 10 s, profile is
healthy) with the student's classes, partitions sized by the student's
``partition_size``, and compares profile with the same world without the fault.
"""

from __future__ import annotations

import functools

from ..lessons import bulkheads as lesson
from ..outcomes import Outcome
from . import CheckFailed, graded, is_number, measured, whole_number


class CallAbandoned(BaseException):
    """Thrown into a call in flight: its caller stopped waiting (a timeout).

    Like ``asyncio.CancelledError`` it is a ``BaseException``, so an
    ``except Exception`` does not catch it; only ``finally`` always runs."""


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _answer(outcome, waits=1):
    """A call that waits ``waits`` times, then answers ``outcome``."""
    def call():
        for _ in range(waits):
            yield "network"
        return outcome
    return call


def _failing(error):
    def call():
        yield "network"
        raise error
    return call


def _start(call_with_bulkhead, bulkhead, call, clock):
    """Start one call through the student's path: ("answered", outcome) if it
    finished at once, else ("in flight", generator)."""
    gen = call_with_bulkhead(bulkhead, call, clock)
    if not hasattr(gen, "send"):
        raise CheckFailed("call_with_bulkhead must be a generator: use `yield from call()` to run the call")
    try:
        next(gen)
    except StopIteration as stop:
        return "answered", stop.value
    return "in flight", gen


def _finish(gen):
    """Let a call in flight run to its end; its outcome, or the exception it raised."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
    except Exception as error:  # the call's own error passing through: fine
        return error


def _abandon(gen):
    """Throw a cancellation into a call in flight; the exception it raised instead, if any
    (a release refusing a permit given back twice, say: ``in_use`` tells what happened)."""
    try:
        gen.throw(CallAbandoned())
    except (CallAbandoned, StopIteration):
        pass
    except Exception as error:
        return error


def _in_use(bulkhead):
    return getattr(bulkhead, "in_use", None)


def _ended(value):
    """What finishing a call gave, as plain data: its outcome, or how it raised."""
    if isinstance(value, BaseException):
        return f"raised {type(value).__name__}: {value}"
    return value


@graded("l4-permits", points=2,
        hint="Keep a count of permits in use: try_acquire takes one if the count is below max_concurrent, "
             "release gives one back, reject only counts.")
def check_permits(Bulkhead):
    b = Bulkhead(3)
    taken = [b.try_acquire(0.0) for _ in range(4)]
    if taken != [True, True, True, False]:
        raise CheckFailed(f"four try_acquire() on Bulkhead(3) returned {taken}, expected [True, True, True, False]")
    if _in_use(b) != 3:
        raise CheckFailed(f"after three permits were taken in_use is {_in_use(b)!r}, expected 3")
    b.release(1.0)
    if _in_use(b) != 2 or b.try_acquire(1.0) is not True:
        raise CheckFailed("after one release a permit must be free again (in_use 2, try_acquire True)")
    b.reject(2.0)
    b.reject(2.0)
    if b.rejected != 2 or _in_use(b) != 3:
        raise CheckFailed(f"after two reject() calls rejected is {b.rejected!r} (expected 2) and in_use "
                          f"{_in_use(b)!r} (expected 3: rejecting takes no permit)")
    # A second bulkhead, of one permit, while the first one holds its three.
    single = Bulkhead(1)
    if _in_use(single) != 0:
        raise CheckFailed(f"a new Bulkhead(1) has in_use {_in_use(single)!r} while a Bulkhead(3) holds 3 permits, "
                          "expected 0: every bulkhead counts its own permits (not on the class, shared by all)")
    taken = [single.try_acquire(3.0), single.try_acquire(3.0)]
    if taken != [True, False]:
        raise CheckFailed(f"two try_acquire() on a new Bulkhead(1) returned {taken}, expected [True, False] "
                          "(a Bulkhead(3) holding 3 permits beside it must not matter)")
    if _in_use(single) != 1 or _in_use(b) != 3:
        raise CheckFailed(f"after one permit of a new Bulkhead(1) was taken its in_use is {_in_use(single)!r} "
                          f"(expected 1) and the Bulkhead(3)'s {_in_use(b)!r} (expected 3): every bulkhead "
                          "counts its own permits")


@measured
def reject_fast_steps(Bulkhead, call_with_bulkhead):
    """Two calls take Bulkhead(2)'s permits, then a third one comes: what each step did,
    and what the first two (answering ok and error) returned when they finished."""
    clock = _Clock()
    b = Bulkhead(2)
    first = _start(call_with_bulkhead, b, _answer(Outcome.OK), clock)
    second = _start(call_with_bulkhead, b, _answer(Outcome.ERROR), clock)
    seen = {"first": first[0], "second": second[0], "in_use": _in_use(b)}
    called = []

    def spy():
        called.append(True)
        yield "network"
        return Outcome.OK

    state, value = _start(call_with_bulkhead, b, spy, clock)
    seen.update(third=state, value=value if state == "answered" else None, sent=bool(called), rejected=b.rejected,
                in_use_after=_in_use(b))
    seen["answers"] = [_ended(_finish(flight[1])) if flight[0] == "in flight" else None for flight in (first, second)]
    return seen


@graded("l4-reject-fast", points=3,
        hint="When try_acquire fails, count the rejection and return Outcome.REJECTED straight away: "
             "no waiting (no yield) and no call.")
def check_reject_fast(Bulkhead, call_with_bulkhead):
    seen = reject_fast_steps(Bulkhead, call_with_bulkhead)
    if seen["first"] != "in flight" or seen["second"] != "in flight":
        raise CheckFailed("with free permits the call must run (the call path should `yield from call()`)")
    if seen["in_use"] != 2:
        raise CheckFailed(f"two calls in flight on Bulkhead(2) but in_use is {seen['in_use']!r}, expected 2")
    if seen["sent"]:
        raise CheckFailed("a third call on Bulkhead(2) with two calls in flight: no permit was free, "
                          "but the call was still sent")
    if seen["third"] != "answered":
        raise CheckFailed("with no free permit your call path waited (it yielded) instead of "
                          "rejecting at once: that is the bug of lesson 4's naive Go sketch")
    if seen["value"] != Outcome.REJECTED:
        raise CheckFailed(f"with no free permit the call path returned {seen['value']!r}, expected Outcome.REJECTED")
    if seen["rejected"] != 1:
        raise CheckFailed(f"one call was rejected but the bulkhead counts {seen['rejected']!r} rejections")
    if seen["in_use_after"] != 2:
        raise CheckFailed(f"after a call was rejected by Bulkhead(2) (two calls in flight) in_use is "
                          f"{seen['in_use_after']!r}, expected 2: a rejected call took no permit, "
                          "so it gives none back")
    for answer, got in zip((Outcome.OK, Outcome.ERROR), seen["answers"]):
        if got != answer:
            raise CheckFailed(f"a call answering Outcome.{answer.name} through call_with_bulkhead returned {got!r}: "
                              "return the call's own outcome (`return (yield from call())`)")
    # In the lesson's world, while payment hangs: many rejections, every one instant.
    world = world_numbers(Bulkhead, call_with_bulkhead, 20, 20, ("down",))
    count, slowest = world["down"]["payment_rejected"], world["down"]["slowest_rejection"]
    if count < 500:
        raise CheckFailed(f"while payment hung for 10 s only {count} of its calls were rejected "
                          "(20 permits, 150 calls/s, each held 1 s: most must be rejected)")
    if not slowest <= 0.0:
        raise CheckFailed(f"a rejection took {slowest * 1000:.0f} ms in the simulation; rejecting must be instant")


_SCRIPTS = [
    ("an ok answer", lambda: _answer(Outcome.OK)),
    ("an error answer", lambda: _answer(Outcome.ERROR)),
    ("a timeout answer", lambda: _answer(Outcome.TIMEOUT, waits=3)),
    ("a call that raised", lambda: _failing(ConnectionError("reset by peer"))),
    ("a call its caller abandoned (timed out)", lambda: _answer(Outcome.OK, waits=5)),
]


@measured
def leak_steps(Bulkhead, call_with_bulkhead):
    """Five calls of every way of ending on Bulkhead(5), one after another, then a
    thousand more interleaved: ``in_use`` before and after each of the five, and at the end."""
    clock = _Clock()
    b = Bulkhead(5)
    flights = []
    for what, make in _SCRIPTS:
        state, gen = _start(call_with_bulkhead, b, make(), clock)
        if state != "in flight":
            return {"did not run": what}
        flights.append((what, gen))
    seen = {"in flight": _in_use(b), "steps": []}
    for what, gen in flights:
        clock.now += 0.1
        before = _in_use(b)
        if "abandoned" in what:
            _abandon(gen)
        else:
            _finish(gen)
        seen["steps"].append([what, before, _in_use(b)])
    kinds = [make() for _, make in _SCRIPTS]
    pending = []
    for i in range(1000):
        state, gen = _start(call_with_bulkhead, b, kinds[i % 5], clock)
        if state == "in flight":
            pending.append((i % 5 == 4, gen))
        if len(pending) >= 5 or i == 999:
            for abandoned, g in pending:
                _abandon(g) if abandoned else _finish(g)
            pending = []
    seen["end"] = _in_use(b)
    return seen


@graded("l4-no-leak", points=3,
        hint="Whatever way the call ends (an answer, an exception, or a cancellation thrown into it), "
             "the permit must come back: release it in a `finally`.")
def check_no_leak(Bulkhead, call_with_bulkhead):
    seen = leak_steps(Bulkhead, call_with_bulkhead)
    if "did not run" in seen:
        raise CheckFailed(f"with free permits {seen['did not run']} did not run")
    if seen["in flight"] != 5:
        raise CheckFailed(f"five calls in flight on Bulkhead(5) but in_use is {seen['in flight']!r}")
    for what, before, after in seen["steps"]:
        if is_number(before) and is_number(after) and after == before - 1:
            continue
        if is_number(before) and is_number(after) and after < before - 1:
            raise CheckFailed(f"after {what} in_use went from {before!r} to {after!r}: the permit was given back "
                              "more than once (release it in one place, the `finally`)")
        raise CheckFailed(f"after {what} in_use went from {before!r} to {after!r}: the permit leaked")
    if seen["end"] != 0:
        raise CheckFailed(f"after 1005 calls of every kind in_use is {seen['end']!r}, expected 0: permits leaked")


@graded("l4-sizing", points=2,
        hint="Little's law: rate × latency permits are busy on average; multiply by the headroom "
             "and round up to a whole permit.")
def check_sizing(partition_size):
    for args, expected in [((150, 0.047, 2), 15), ((200, 0.036, 2), 15), ((100, 0.5, 1.5), 75), ((10, 0.02, 2), 1)]:
        got = whole_number(f"partition_size{args}", partition_size(*args))
        if got != expected:
            raise CheckFailed(f"partition_size{args} returned {got}, expected {expected}")
    got = whole_number("partition_size(3, 0.1, 2)", partition_size(3, 0.1, 2))
    if got != 1:
        raise CheckFailed(f"partition_size(3, 0.1, 2) returned {got!r}: 0.6 permits round up to 1")
    for args, expected in [((150, 0.047), 15), ((40, 0.25), 20)]:
        got = whole_number(f"partition_size{args}", partition_size(*args))
        if got != expected:
            raise CheckFailed(f"partition_size{args} returned {got}, expected {expected}: "
                              "headroom is 2 when it is not given")


#: The margin profile must stay within while payment is down.
P99_MARGIN = 1.25
SUCCESS_MARGIN = 0.002


@graded("l4-isolation", points=3,
        hint="Size each partition with partition_size from its own rate and latency, and make sure a "
             "call with no permit is rejected rather than queued.")
def check_isolation(Bulkhead, call_with_bulkhead, partition_size):
    pay = whole_number(f"partition_size({lesson.PAYMENT_RATE}, 0.047, 2)", partition_size(lesson.PAYMENT_RATE, 0.047, 2))
    prof = whole_number(f"partition_size({lesson.PROFILE_RATE}, 0.036, 2)", partition_size(lesson.PROFILE_RATE, 0.036, 2))
    if pay < 1 or prof < 1:
        raise CheckFailed(f"partition_size gave {pay!r} and {prof!r} permits; expected whole numbers >= 1")
    world = world_numbers(Bulkhead, call_with_bulkhead, pay, prof)
    p_down, p_base = world["down"]["profile_p99"], world["base"]["profile_p99"]
    s_down, s_base = world["down"]["profile_success"], world["base"]["profile_success"]
    if not s_base >= 0.995:
        raise CheckFailed(f"even with payment healthy only {s_base:.1%} of profile's calls succeed "
                          f"({world['base']['profile_rejected']} rejected): either {prof} permits are too few for "
                          f"200 calls/s, or profile's Bulkhead({prof}) shares its permits with payment's")
    if not p_down <= P99_MARGIN * p_base:
        raise CheckFailed(f"while payment was down profile's p99 was {p_down * 1000:.0f} ms against "
                          f"{p_base * 1000:.0f} ms without the fault (allowed: {P99_MARGIN:g}x)")
    if not s_down >= s_base - SUCCESS_MARGIN:
        raise CheckFailed(f"while payment was down {s_down:.2%} of profile's calls succeeded against "
                          f"{s_base:.2%} without the fault")


@functools.lru_cache(maxsize=4)
def _world_run(Bulkhead, call_with_bulkhead, pay, prof, fault):
    world = lesson.shop_world(Bulkhead(pay), Bulkhead(prof), fault=lesson.FAULT if fault else None,
                              through=call_with_bulkhead)
    return world.run(lesson.UNTIL)


@measured
def world_numbers(Bulkhead, call_with_bulkhead, pay, prof, which=("down", "base")):
    """The shop world with partitions of ``pay`` and ``prof`` permits, with payment
    hanging ("down") and healthy ("base"): profile's p99, success rate and
    rejections, and payment's rejections (how many, the slowest) while the fault lasts."""
    numbers = {}
    for name in which:
        fault = name == "down"
        result = _world_run(Bulkhead, call_with_bulkhead, pay, prof, fault)
        count, slowest = lesson.rejections(result, "payment")
        numbers[name] = {"profile_p99": lesson.p99(result, "profile"),
                         "profile_success": lesson.success_rate(result, "profile"),
                         "profile_rejected": lesson.rejections(result, "profile")[0],
                         "payment_rejected": int(count), "slowest_rejection": float(slowest)}
    return numbers
