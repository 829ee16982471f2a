"""Graded checks of exercise 6: a fallback chain, a queue for later, an idempotent receiver.

The student writes ``FallbackChain(max_age, default=None, critical=False)`` with
``serve(now, key, call) -> (source, value, age)``, ``WriteQueue(capacity)`` with
``accept(now, key, request)``, ``next(now)``, ``done(now, key)`` and
``failed(now, key)``, and ``IdempotentReceiver()`` with ``handle(key, request, work)``.

Every call to the student's code is made inside a ``@measured`` function, in the
answer process beside the student's objects, which returns plain data: the
answers of a script (checked here, step by step, against answers worked out by
hand: :data:`CHAIN_SCRIPT`, :data:`QUEUE_SCRIPT`, :data:`RECEIVER_SCRIPT`), or the
numbers of a simulation the student's objects took part in (the lesson's page,
:func:`~resilience_lab.lessons.fallbacks.page_run`, and its orders,
:func:`~resilience_lab.lessons.orders.order_run`). The simulations are seeded,
so a check gives the same verdict every time.

The page checks judge what the chain served by the data itself, not by what the
chain says of it: every answer of a service carries the product and the time it
was produced, so the harness computes the true age of what was served from the
cache, and notices data served for the wrong product.
"""

from __future__ import annotations

import functools
import math

from ..lessons import fallbacks as page
from ..lessons import orders
from ..patterns.fallback_chain import SOURCES
from . import CheckFailed, graded, is_number, measured

DOWN = "down"


# -- calling the student's code, as data --------------------------------------------------
def _plain(value, depth=0):
    """A student's answer as plain data: None, bool, str and numbers as they are, sequences
    as lists, anything else as ``{"other": its repr}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if is_number(value):
        return float(value)
    if isinstance(value, (tuple, list)) and depth < 3 and len(value) <= 10:
        return [_plain(v, depth + 1) for v in value]
    try:
        text = repr(value)[:100]
    except Exception:
        text = f"<{type(value).__name__} object>"
    return {"other": text}


def _attempt(function, *args):
    """``function(*args)`` as plain data; ``{"raised": ...}`` if it raised (but an untouched
    stub's ``NotImplementedError`` goes through: the check says so)."""
    try:
        return _plain(function(*args))
    except NotImplementedError:
        raise
    except Exception as error:  # the student's code raised: return it as data
        return {"raised": f"{type(error).__name__}: {error}"}


def _raised(answer):
    return isinstance(answer, dict) and "raised" in answer


def _shown(answer):
    if isinstance(answer, dict):
        return f"raised {answer['raised']}" if "raised" in answer else f"returned {answer['other']}"
    if isinstance(answer, list):
        return "returned (" + ", ".join(_value_text(v) for v in answer) + ("," if len(answer) == 1 else "") + ")"
    return f"returned {_value_text(answer)}"


def _value_text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict) and "other" in value:
        return value["other"]
    return repr(value)


def _new(cls, *args):
    """``(cls(*args), None)``, or ``(None, what it raised)``."""
    try:
        return cls(*args), None
    except NotImplementedError:
        raise
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"


# -- l6-chain: the chain, step by step ------------------------------------------------------
#: The chains of the script, worked out by hand: (constructor arguments, steps). A step is
#: ``(now, key, the dependency "up" or "down", the answer expected, why)``. When the
#: dependency is up, ``call()`` returns ``"<key>@<now>"``; down, it raises ConnectionError.
CHAIN_SCRIPT = [
    ((30, "unavailable"), [
        (0, "p1", "up", ("fresh", "p1@0", 0), "the call answered"),
        (10, "p1", "down", ("cache", "p1@0", 10), "the call failed; p1's answer of t = 0 is 10 s old, at most 30"),
        (30, "p1", "down", ("cache", "p1@0", 30), "30 s old is still at most max_age = 30"),
        (31, "p1", "down", ("default", "unavailable", None), "31 s old is too old: the default"),
        (31, "p2", "down", ("default", "unavailable", None), "nothing was ever fetched for p2: the default"),
        (40, "p2", "up", ("fresh", "p2@40", 0), "the call answered"),
        (45, "p1", "down", ("default", "unavailable", None),
         "p1's answer is 45 s old; p2's answer of t = 40 is not p1's (the cache is per key)"),
        (50, "p2", "down", ("cache", "p2@40", 10), "p2's answer of t = 40 is 10 s old"),
        (60, "p2", "up", ("fresh", "p2@60", 0), "the call answered"),
        (61, "p2", "down", ("cache", "p2@60", 1), "the newest answer for p2 is the one of t = 60"),
    ]),
    ((5,), [
        (62, "p2", "down", ("degraded", None, None),
         "this chain never fetched p2 (every chain has its own cache), and it has no default: leave it out"),
        (63, "p3", "up", ("fresh", "p3@63", 0), "the call answered"),
        (68, "p3", "down", ("cache", "p3@63", 5), "5 s old, at most max_age = 5"),
        (68.5, "p3", "down", ("degraded", None, None), "5.5 s old is too old, and there is no default"),
    ]),
    ((60, "0.00", True), [
        (70, "p3", "up", ("fresh", "p3@70", 0), "a critical dependency's answers are served as usual"),
        (71, "p3", "down", ("failed", None, None),
         "critical: no fallback, not even a fresh cache or a default; the page must fail"),
    ]),
]


@measured
def chain_answers(FallbackChain, script):
    """Run each chain of ``script``: for each step ``(answer, calls made)``; a constructor
    or a call that raised ends it all with ``{"raised": ..., "at": ...}``."""
    out = []
    for number, (args, steps) in enumerate(script):
        chain, problem = _new(FallbackChain, *args)
        if problem:
            return out + [{"raised": problem, "at": ["new", number]}]
        for step, (now, key, state, _, _) in enumerate(steps):
            calls = []

            def call(now=now, key=key, state=state):
                calls.append(1)
                if state == DOWN:
                    raise ConnectionError("the dependency is down")
                return f"{key}@{now:g}"

            answer = _attempt(chain.serve, now, key, call)
            if _raised(answer):
                return out + [{"raised": answer["raised"], "at": [number, step]}]
            out.append([answer, len(calls)])
    return out


def _same(answer, expected):
    if not isinstance(answer, list) or len(answer) != 3:
        return False
    source, value, age = answer
    if source != expected[0] or value != expected[1]:
        return False
    if expected[2] is None:
        return age is None
    return is_number(age) and math.isclose(age, expected[2], abs_tol=1e-9)


@graded("l6-chain", points=2,
        hint="One call per request. If it answers, remember (time, value) for that key and serve ('fresh', value, 0). "
             "If it raised: a critical chain serves ('failed', None, None); else the key's last answer if now - its "
             "time <= max_age, as ('cache', value, age); else ('default', default, None) if there is a default; "
             "else ('degraded', None, None).")
def check_chain(FallbackChain):
    answers = chain_answers(FallbackChain, CHAIN_SCRIPT)
    done = 0
    for number, (args, steps) in enumerate(CHAIN_SCRIPT):
        made = "FallbackChain(" + ", ".join(repr(a) for a in args) + ")"
        lines = [f"{made}, step by step:"]
        for step, (now, key, state, expected, why) in enumerate(steps):
            if done >= len(answers):
                raise CheckFailed("\n".join(lines + ["  the script did not finish"]))
            got = answers[done]
            if _raised(got):
                where = got["at"]
                call = made if where[0] == "new" else f"serve({now:g}, {key!r}, call) with the dependency {state}"
                raise CheckFailed("\n".join(lines + [f"  {call} raised {got['raised']}"]))
            answer, calls = got
            what = f"serve({now:g}, {key!r}, call), the dependency {state}"
            if calls != 1:
                raise CheckFailed("\n".join(lines + [
                    f"  {what}: call() was called {calls} times, expected once: "
                    + ("never ask a failing dependency again for the same request (it doubles the load on it "
                       "and the wait)" if calls > 1 else "try the call first, every time")]))
            if not _same(answer, expected):
                raise CheckFailed("\n".join(lines + [
                    f"  {what} {_shown(answer)}, expected {_shown(list(expected))[9:]}", f"     ({why})"]))
            lines.append(f"  {what}: {_shown(answer)[9:]}, right")
            done += 1


# -- the page, with the student's chains -------------------------------------------------------
class _BadAnswer(Exception):
    pass


class _Judged:
    """A student's chain for one dependency of the page, whose every answer is checked."""

    def __init__(self, chain, dependency, default, numbers):
        self.chain, self.dependency, self.default, self.numbers = chain, dependency, default, numbers

    def serve(self, now, key, call):
        try:
            answer = self.chain.serve(now, key, call)
        except NotImplementedError:
            raise
        except Exception as error:
            raise _BadAnswer(f"serve({now:.3f}, {key!r}, call) for {self.dependency} raised "
                             f"{type(error).__name__}: {error}") from error
        what = f"serve({now:.3f}, {key!r}, call) for {self.dependency}"
        if not isinstance(answer, (tuple, list)) or len(answer) != 3 or answer[0] not in SOURCES:
            raise _BadAnswer(f"{what} returned {_value_text(_plain(answer))}, expected (source, value, age) "
                             f"with a source among {SOURCES}")
        source, value, age = answer
        if source in ("fresh", "cache"):
            if not isinstance(value, page.Data) or value.service != self.dependency:
                raise _BadAnswer(f"{what} served {_value_text(_plain(value))} as {source!r}: not an answer "
                                 f"of {self.dependency}")
            if value.key != key:
                self.numbers["wrong key"] += 1
                self.numbers.setdefault("wrong example", f"{what} served {value.key}'s data for {key}")
            true_age = now - value.time
            if source == "cache":
                self.numbers["cache"] += 1
                self.numbers["oldest"] = max(self.numbers["oldest"], true_age)
                if not (is_number(age) and abs(age - true_age) <= 1e-6):
                    self.numbers["wrong age"] += 1
                    self.numbers.setdefault("age example", f"{what} served data {true_age:.3f} s old as age "
                                                           f"{_value_text(_plain(age))}")
            elif true_age != 0:
                raise _BadAnswer(f"{what} served data {true_age:.3f} s old as 'fresh'")
        elif source == "default" and value != self.default:
            raise _BadAnswer(f"{what} served {_value_text(_plain(value))} as the default, which is "
                             f"{self.default!r}")
        return answer


@measured
def page_numbers(FallbackChain, down, max_age, outage):
    """The lesson's page with the student's chains (``FallbackChain(max_age, default,
    critical)`` for each dependency), ``down`` down during ``outage``: during the outage,
    the share of pages served and degraded, answers served from the cache, the oldest (by
    the data's own time), wrong keys and ages, and how the dependency down was served."""
    numbers = {"cache": 0, "oldest": 0.0, "wrong key": 0, "wrong age": 0}
    chains = {}
    for dep in page.DEPENDENCIES:
        default = page.DEFAULTS.get(dep)
        chain, problem = _new(FallbackChain, max_age, default, dep in page.CRITICAL)
        if problem:
            return {"raised": f"FallbackChain({max_age!r}, {default!r}, {dep in page.CRITICAL}) raised {problem}"}
        chains[dep] = _Judged(chain, dep, default, numbers)
    try:
        run = page.page_run(chains, down=down, outage=tuple(outage))
    except _BadAnswer as error:
        return {"raised": str(error)}
    numbers["availability"] = page.availability(run)
    numbers["before"] = page.availability(run, 0.0, outage[0])
    numbers["served"] = page.served(run)
    numbers["pages"] = int(run.during().sum())
    return numbers


def _page(FallbackChain, down, max_age, outage):
    got = page_numbers(FallbackChain, down, max_age, list(outage))
    if _raised(got):
        raise CheckFailed(f"on the lesson's page ({down} down from t = {outage[0]:g} to {outage[1]:g} s, "
                          f"max_age {max_age:g}): {got['raised']}")
    return got


@functools.lru_cache(maxsize=8)
def _reference_cache_answers(down, max_age, outage):
    run = page.page_run(page.standard_chains(max_age), down=down, outage=outage)
    return int(page.cache_ages(run).size)


#: The page must be served at least this often while an optional dependency is down.
AVAILABILITY = 0.99


@graded("l6-availability", points=2,
        hint="An optional dependency's failure must never fail the page: after the cache (if fresh enough), "
             "serve the default if there is one, else leave the part out ('degraded').")
def check_availability(FallbackChain):
    for down in ("recommendations", "reviews"):
        got = _page(FallbackChain, down, 30.0, (30.0, 120.0))
        if not got["before"] >= AVAILABILITY:
            raise CheckFailed(f"before any outage only {got['before']:.1%} of the pages were served")
        if not got["availability"] >= AVAILABILITY:
            raise CheckFailed(f"while {down} was down for 90 s (max_age 30 s) only {got['availability']:.1%} of "
                              f"{got['pages']} pages were served (at least {AVAILABILITY:.0%} expected); "
                              f"{down} was served {got['served']}")


@graded("l6-max-age", points=2,
        hint="Remember the time of each key's last answer and serve it from the cache only while now - that time "
             "<= max_age; report that difference as the age. A cache with no limit serves data as old as the outage.")
def check_max_age(FallbackChain):
    for max_age in (10.0, 45.0):
        outage = (30.0, 150.0)
        got = _page(FallbackChain, "recommendations", max_age, outage)
        where = f"recommendations down for 120 s, max_age {max_age:g} s"
        if got["wrong key"]:
            raise CheckFailed(f"{where}: {got['wrong key']} answers from the cache were another product's data, "
                              f"for example {got['wrong example']}: keep one cached answer per key")
        if got["oldest"] > max_age + 1e-9:
            raise CheckFailed(f"{where}: data {got['oldest']:.1f} s old was served from the cache, older than "
                              f"max_age = {max_age:g} s")
        if got["wrong age"]:
            raise CheckFailed(f"{where}: {got['wrong age']} answers from the cache gave a wrong age, for example "
                              f"{got['age example']}")
        expected = _reference_cache_answers("recommendations", max_age, outage)
        if got["cache"] < 0.9 * expected:
            raise CheckFailed(f"{where}: only {got['cache']} answers came from the cache, where about {expected} "
                              "were fresh enough: serve the cache before the default whenever it is fresh enough, "
                              "and keep each key's newest answer")


@graded("l6-critical", points=2,
        hint="A critical chain (critical=True) serves its dependency's answers as usual, and when a call fails "
             "returns ('failed', None, None) at once: no cache, no default, no second call.")
def check_critical(FallbackChain):
    got = _page(FallbackChain, "price", 30.0, (30.0, 90.0))
    if not got["before"] >= AVAILABILITY:
        raise CheckFailed(f"with every service up only {got['before']:.1%} of the pages were served")
    if got["availability"] > 0:
        raise CheckFailed(f"while the price service was down, {got['availability']:.1%} of the pages were served "
                          f"anyway (the price was served {got['served']}): a critical dependency must not be "
                          "masked by a fallback; a page with a stale or made-up price must fail")
    if got["served"] != {"failed": 1.0}:
        raise CheckFailed(f"while the price service was down its part was served {got['served']}, expected "
                          "'failed' every time")


# -- l6-idempotency: the receiver, step by step ---------------------------------------------
ORDER = ("customer-1", 9.99)
#: The receiver's script, worked out by hand: (receiver number, key, request, the work
#: succeeds?, the answer expected, charges expected after the step, why). ``work`` charges
#: and returns ``"receipt-<n>"`` (n counts the charges), or raises ConnectionError.
RECEIVER_SCRIPT = [
    (1, "k1", ORDER, True, "receipt-1", 1, "a new key: do the work"),
    (1, "k1", ORDER, True, "receipt-1", 1, "k1 again (a retry): its first result, no second charge"),
    (1, "k2", ORDER, True, "receipt-2", 2, "another key with the same request is another order: do it"),
    (1, "k1", ORDER, True, "receipt-1", 2, "k1 again: still its first result"),
    (1, "k3", ORDER, False, "raises ConnectionError", 2,
     "the work failed: let the exception through and remember nothing"),
    (1, "k3", ORDER, True, "receipt-3", 3, "k3's work was never done: do it now"),
    (2, "k1", ORDER, True, "receipt-4", 4, "a second receiver has seen nothing yet (each has its own memory)"),
]


@measured
def receiver_answers(IdempotentReceiver, script):
    """Run ``script`` on new receivers: for each step ``(answer, charges so far)``."""
    receivers, charges, out = {}, [0], []
    for number, key, request, works, *_ in script:
        if number not in receivers:
            receiver, problem = _new(IdempotentReceiver)
            if problem:
                return out + [{"raised": problem, "at": "new"}]
            receivers[number] = receiver

        def work(request, works=works):
            if not works:
                raise ConnectionError("the card network did not answer")
            charges[0] += 1
            return f"receipt-{charges[0]}"

        out.append([_attempt(receivers[number].handle, key, request, work), charges[0]])
    return out


@graded("l6-idempotency", points=2,
        hint="Keep a dict key -> result. A key seen before: return its result without calling work. A new key: "
             "result = work(request), store it, return it; if work raises, store nothing. Dedupe on the key, "
             "never on the request: two orders may look the same.")
def check_idempotency(IdempotentReceiver):
    answers = receiver_answers(IdempotentReceiver, RECEIVER_SCRIPT)
    lines = ["IdempotentReceiver, step by step (work charges the card and returns 'receipt-<n>'):"]
    for (number, key, request, works, expected, charges, why), got in zip(RECEIVER_SCRIPT, answers):
        if _raised(got):
            raise CheckFailed("\n".join(lines + [f"  IdempotentReceiver() raised {got['raised']}"]))
        answer, made = got
        what = f"receiver {number}: handle({key!r}, {request!r}, work" + ("" if works else " that fails") + ")"
        shown = _shown(answer)
        right = shown == "raised ConnectionError: the card network did not answer" if not works \
            else answer == expected
        if not right or made != charges:
            lines.append(f"  {what} {shown} and the card was charged {_times(made)} in all; expected "
                         f"{expected if not works else repr(expected)} and {_times(charges)}")
            raise CheckFailed("\n".join(lines + [f"     ({why})"]))
        lines.append(f"  {what}: {shown[9:] if works else shown}, {_times(made)} charged so far, right")
    if len(answers) < len(RECEIVER_SCRIPT):
        raise CheckFailed("\n".join(lines + ["  the script did not finish"]))


def _times(n):
    return "once" if n == 1 else f"{n} times"


# -- l6-queue: the queue, step by step -------------------------------------------------------
#: The queue's script, worked out by hand: (queue number, capacity, method, arguments, the
#: answer expected, why). Requests are the upper-case key.
QUEUE_SCRIPT = [
    (1, 3, "accept", (0, "a"), True, "room for 3"),
    (1, 3, "accept", (0, "b"), True, "room for 3"),
    (1, 3, "accept", (1, "c"), True, "room for 3"),
    (1, 3, "accept", (2, "d"), False, "3 writes held: full, so say no (503); never drop a write you said yes to"),
    (2, 1, "accept", (2, "x"), True, "a second queue has its own room"),
    (2, 1, "accept", (2, "y"), False, "the second queue holds 1 of 1"),
    (1, 3, "accept", (3, "a"), True, "'a' is held already (the client retried): yes, and do not queue it twice"),
    (1, 3, "next", (4,), ("a", "A"), "the oldest write"),
    (1, 3, "next", (4,), ("b", "B"), "the oldest write not in flight"),
    (1, 3, "accept", (5, "e"), False, "writes in flight are still held until done: 3 held"),
    (1, 3, "failed", (6, "a"), None, "the send of 'a' failed: it goes back to the front"),
    (1, 3, "next", (6,), ("a", "A"), "'a' failed: it is sent next"),
    (1, 3, "done", (7, "a"), None, "'a' is done: forget it"),
    (1, 3, "done", (7, "b"), None, "'b' is done: forget it"),
    (1, 3, "accept", (8, "d"), True, "only 'c' is held"),
    (1, 3, "accept", (8, "e"), True, "'c' and 'd' are held"),
    (1, 3, "accept", (8, "f"), False, "'c', 'd' and 'e' are held: full"),
    (1, 3, "next", (9,), ("c", "C"), "the oldest write"),
    (1, 3, "next", (9,), ("d", "D"), "the oldest write not in flight"),
    (1, 3, "next", (9,), ("e", "E"), "the oldest write not in flight"),
    (1, 3, "next", (9,), None, "every write is in flight: nothing to send"),
    (1, 3, "failed", (10, "d"), None, "the send of 'd' failed"),
    (1, 3, "next", (10,), ("d", "D"), "'d' failed: it is sent again"),
    (3, 0, "accept", (11, "z"), False, "a queue of capacity 0 holds nothing"),
]


@measured
def queue_answers(WriteQueue, script):
    """Run ``script``: each step's answer (``next`` as ``[key, request]``)."""
    queues, out = {}, []
    for number, capacity, method, args, *_ in script:
        if number not in queues:
            queue, problem = _new(WriteQueue, capacity)
            if problem:
                return out + [{"raised": problem, "at": "new"}]
            queues[number] = queue
        if method == "accept":
            args = (*args, args[1].upper())
        answer = _attempt(getattr(queues[number], method), *args)
        out.append(answer)
        if _raised(answer):
            break
    return out


def _truth(answer):
    if answer is None or isinstance(answer, (bool, str)) or is_number(answer):
        return bool(answer)
    return None


@graded("l6-queue", points=2,
        hint="Hold at most capacity writes (waiting or in flight) by key: accept says False when full, True for a "
             "key already held (without holding it twice); next hands out the oldest waiting one and keeps it; "
             "done forgets it; failed puts it back at the front.")
def check_queue(WriteQueue):
    answers = queue_answers(WriteQueue, QUEUE_SCRIPT)
    lines = ["WriteQueue, step by step (each request is its key in capitals):"]
    for (number, capacity, method, args, expected, why), got in zip(QUEUE_SCRIPT, answers):
        shown_args = ", ".join(repr(a) if isinstance(a, str) else f"{a:g}" for a in args)
        if method == "accept":
            shown_args += f", {args[1].upper()!r}"
        what = f"queue {number} (capacity {capacity}): {method}({shown_args})"
        if _raised(got):
            raise CheckFailed("\n".join(lines + [f"  {what} raised {got['raised']}"]))
        if method == "accept":
            right = _truth(got) is expected
        elif method == "next":
            right = got is None if expected is None else got == list(expected)
        else:
            right = True  # done and failed: their effect shows in the answers that follow
        if not right:
            lines.append(f"  {what} {_shown(got)}, expected {expected!r}")
            raise CheckFailed("\n".join(lines + [f"     ({why})"]))
        lines.append(f"  {what}: {_shown(got)[9:]}, right" if method in ("accept", "next") else f"  {what}")
    if len(answers) < len(QUEUE_SCRIPT):
        raise CheckFailed("\n".join(lines + ["  the script did not finish"]))


# -- l6-exactly-once: the orders, with the student's queue and receiver ------------------------
#: The runs of the orders (payments down from 20 s to 50 s, then again for 2 s, 2 s after it
#: came back; 20% of the orders sent twice): (what, order_run options).
ORDER_RUNS = [
    ("a queue with room for every order, drained at 50 per second", {"capacity": 5000}),
    ("a queue with room for every order, drained all at once", {"capacity": 5000, "drain_rate": None}),
    ("a queue of capacity 100, drained at 50 per second", {"capacity": 100}),
]
ORDER_OPTIONS = {"outage": (20.0, 50.0), "double_submit": 0.2, "live_rate": 0, "until": 80.0, "seed": 8}


@measured
def order_numbers(WriteQueue, IdempotentReceiver, options):
    """:func:`~resilience_lab.lessons.orders.order_run` with the student's queue and receiver:
    orders, accepted, refused, lost, charged twice, charged after a refusal (a few keys of
    each), the orders accepted while payments was down, and the orders left in the queue."""
    settings = {**ORDER_OPTIONS, **options}
    queue, problem = _new(WriteQueue, settings.pop("capacity"))
    if problem:
        return {"raised": f"WriteQueue(...) raised {problem}"}
    receiver, problem = _new(IdempotentReceiver)
    if problem:
        return {"raised": f"IdempotentReceiver() raised {problem}"}
    try:
        run = orders.order_run(queue, receiver, **settings)
    except NotImplementedError:
        raise
    except Exception as error:
        return {"raised": f"{type(error).__name__}: {error}"}
    start, end = settings["outage"]
    twice = run.twice
    return {
        "orders": len(run.accepted_at) + len(run.refused), "accepted": len(run.accepted_at),
        "refused": len(run.refused), "lost": run.lost[:3], "lost count": len(run.lost),
        "twice": [[k, run.charges[k]] for k in twice[:3]], "twice count": len(twice),
        "charged after refusal": run.charged_after_refusal[:3],
        "accepted while down": sum(1 for t in run.accepted_at.values() if start <= t < end),
        "unconfirmed": sum(1 for k in run.accepted_at if k not in run.confirmed_at),
    }


@graded("l6-exactly-once", points=3,
        hint="Lost: the queue said True but did not keep the write, or let it go before done(). Charged twice: "
             "the receiver did the work again for a key it had seen (a client retry, or a send whose answer was "
             "lost). Charged after a 503: the queue said False but kept the write.")
def check_exactly_once(WriteQueue, IdempotentReceiver):
    for what, options in ORDER_RUNS:
        got = order_numbers(WriteQueue, IdempotentReceiver, options)
        where = (f"with {what} (payments down from t = 20 s to 50 s and again for 2 s soon after, one order in "
                 "five sent twice)")
        if _raised(got):
            raise CheckFailed(f"{where}: {got['raised']}")
        if got["lost count"]:
            raise CheckFailed(f"{where}: {got['lost count']} orders were accepted (202) and never charged, "
                              f"for example {', '.join(got['lost'])}: lost")
        if got["twice count"]:
            shown = ", ".join(f"{k} {n} times" for k, n in got["twice"])
            raise CheckFailed(f"{where}: {got['twice count']} orders were charged more than once ({shown})")
        if got["charged after refusal"]:
            raise CheckFailed(f"{where}: {', '.join(got['charged after refusal'])} were refused (503) and charged "
                              "all the same: the client was told they were not taken")
        if got["unconfirmed"]:
            raise CheckFailed(f"{where}: {got['unconfirmed']} accepted orders were never confirmed done")
        capacity = options["capacity"]
        if capacity >= got["orders"] and got["refused"]:
            raise CheckFailed(f"{where}: {got['refused']} orders were refused while the queue had room")
        if got["accepted while down"] < 0.9 * min(capacity, 250):  # some room goes to retries of done orders
            raise CheckFailed(f"{where}: only {got['accepted while down']} orders were accepted while payments "
                              f"was down, with room for {capacity}")
