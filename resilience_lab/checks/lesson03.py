"""Graded checks of exercise 3: your circuit breaker against the reference.

The first two checks are *differential*: your breaker class and the reference
(:class:`~resilience_lab.patterns.circuit_breaker.CircuitBreaker` in rate mode,
same settings) are driven by the same traces and must agree at every step. A
trace is a list of steps at increasing (or equal) times:

- ``call``: a call arrives; both breakers are asked ``allow(now)``. An allowed
  call stays in flight until an outcome step.
- ``ok`` / ``fail``: the oldest call in flight ends; ``record(now, ok)``.

After every step the two must report the same ``state`` (and, for ``call``,
the same answer). The traces are a fixed list of edge cases (exactly at the
threshold, below the minimum number of calls, a probe that fails, concurrent
probes, the window sliding past old failures, the end of the open period to
the instant, each setting at a value other than the lesson's) followed by
hundreds of traces from a seeded generator that aims some of its times at
exactly those boundaries. On a mismatch you see the shortest failing trace up
to the first step where the two disagree.

Two rules the edge cases pin down, as the reference has them: half-open admits
at most ``probes`` calls *in all* (a total for the half-open period, not a
number in flight: a probe that ended does not free a place); and the breaker
cannot tell calls apart, so every outcome recorded in half-open counts as a
probe's, even one of a call allowed before the trip (a success counts toward
the ``probes`` successes, a failure reopens it), while an outcome recorded in
closed counts in the window even if its call was a probe. An outcome recorded
while open is ignored, also after ``open_for`` has passed: only a call ends the
open period.

``l3-trip`` compares only up to the reference's first trip (the closed state
and the rate window); ``l3-recover`` compares whole traces (open, half-open,
probes, closing). ``l3-world`` runs your breaker in the lesson's world.
"""

from __future__ import annotations

import functools
import math
import random

from ..lessons import circuit_breaker as lesson
from ..patterns.circuit_breaker import OPEN, CircuitBreaker
from ..world.breaker_policy import state_name
from . import CheckFailed, graded, measured

#: Settings the traces are run with (rates that are exact binary fractions,
#: so ``failures / calls >= rate`` and ``failures >= rate * calls`` agree).
CONFIGS = [
    dict(failure_rate=0.5, window=10.0, minimum_calls=4, open_for=5.0, probes=1),
    dict(failure_rate=0.25, window=3.0, minimum_calls=6, open_for=2.0, probes=2),
    dict(failure_rate=0.75, window=5.0, minimum_calls=3, open_for=1.0, probes=3),
]
GENERATED = 300


def _edge_cases():
    """(name, config index, steps) written by hand; config 0 unless stated.

    Every time is a multiple of 1/8 s, so sums and differences of times are
    exact in floating point and ``now - t < window`` means the same as
    ``t + window > now``; the generated traces keep to multiples of 1/32 s.
    """
    call_ok = lambda t: [(t, "call"), (t, "ok")]  # noqa: E731
    call_fail = lambda t: [(t, "call"), (t, "fail")]  # noqa: E731
    calls = lambda n, t: [(t, "call")] * n  # noqa: E731  (n calls in flight at once)
    fails = lambda n, t: [(t + i / 8, "fail") for i in range(n)]  # noqa: E731  (n of them fail, 1/8 s apart)
    trip = call_fail(0.0) + call_fail(0.125) + call_fail(0.25) + call_fail(0.375)  # opens at 0.375
    return [
        ("exactly at the threshold (2 failures of 4 calls, 50%)", 0,
         call_ok(0.0) + call_fail(1.0) + call_ok(2.0) + call_fail(3.0) + [(3.5, "call")]),
        ("below the minimum number of calls (3 failures, minimum 4)", 0,
         call_fail(0.0) + call_fail(0.5) + call_fail(1.0) + [(1.5, "call")] + call_fail(2.0) + [(2.5, "call")]),
        ("just below the threshold (1 failure of 4 calls, then 2 of 5)", 0,
         call_ok(0.0) + call_ok(1.0) + call_fail(2.0) + call_ok(3.0) + call_fail(4.0) + call_ok(4.5)),
        ("the window sliding past old failures (an outcome counts while now - t < 10)", 0,
         call_fail(0.0) + call_ok(1.0) + call_ok(2.0) + call_fail(10.0) + call_fail(10.5) + [(10.625, "call")]),
        ("single successes between failures (60% failures, never 3 in a row)", 1,
         sum((call_ok(i / 8) if i % 5 in (1, 3) else call_fail(i / 8) for i in range(10)), [])),
        ("a call at the very end of the open period (opened at 0.375, open 5 s)", 0,
         trip + [(5.25, "call"), (5.375, "call"), (5.5, "ok")]),
        ("a probe that fails reopens the breaker, with a new open period", 0,
         trip + [(5.375, "call"), (5.5, "fail"), (5.625, "call"), (10.375, "call"), (10.5, "call"),
                 (10.625, "ok"), (10.75, "call")]),
        ("concurrent probes: only `probes` of them get through", 0,
         trip + [(6.0, "call"), (6.0, "call"), (6.125, "call"), (6.25, "ok"), (6.375, "call")]),
        ("two probes must both succeed to close", 1,
         sum((call_fail(i / 8) for i in range(6)), []) + [(3.0, "call"), (3.0, "call"), (3.0, "call"),
                                                          (3.125, "ok"), (3.25, "call"), (3.375, "ok"),
                                                          (3.5, "call")]),
        ("after closing, the window starts empty", 0,
         trip + [(5.375, "call"), (5.5, "ok")] + call_fail(5.625) + call_fail(5.75) + call_ok(5.875)
         + call_fail(6.0)),
        ("a late outcome while open is ignored", 0,
         call_ok(0.0) + [(0.125, "call")] + call_fail(0.25) + call_fail(0.375) + call_fail(0.5)
         + [(0.625, "fail"), (0.75, "call")]),
        ("exactly at a 75% threshold: 2 failures of 3 stay closed, 3 of 4 trip", 2,
         call_fail(0.0) + call_ok(0.125) + call_fail(0.25) + [(0.375, "call")] + call_fail(0.5) + [(0.625, "call")]),
        ("a 3 s window: the failure at t = 0 no longer counts at t = 3 (1 failure of 6 is below 25%)", 1,
         call_fail(0.0) + call_ok(1.0) + call_ok(1.5) + call_ok(2.0) + call_ok(2.5) + call_ok(3.0)
         + call_fail(3.25) + [(3.5, "call")]),
        ("a success can trip it too (the 4th outcome, a success, makes 2 failures of 4)", 0,
         call_fail(0.0) + call_fail(0.5) + call_ok(1.0) + call_ok(1.5) + [(2.0, "call")]),
        ("late failures while open are not counted after closing", 0,
         calls(6, 0.0) + fails(4, 0.125) + [(0.625, "fail"), (0.75, "fail"), (5.5, "call"), (5.625, "ok")]
         + call_fail(5.75) + call_ok(5.875) + call_fail(6.0) + [(6.125, "call")]),
        ("an outcome after the open period but before any call is ignored: only a call ends "
         "the open period", 0,
         calls(5, 0.0) + fails(4, 0.125) + [(6.0, "ok"), (6.125, "call"), (6.25, "fail"), (11.125, "call"),
                                              (11.25, "call")]),
        ("every outcome recorded in half-open is a probe's, even from a call allowed before the trip: "
         "its success closes the breaker, and the probe's own failure then counts in the window", 0,
         calls(5, 0.0) + fails(4, 0.125) + [(5.5, "call"), (5.625, "ok"), (5.75, "fail")]
         + call_ok(5.875) + call_fail(6.0) + call_ok(6.125) + [(6.25, "call")]),
        ("a call allowed before the trip fails in half-open: the breaker reopens, a new open period", 0,
         calls(5, 0.0) + fails(4, 0.125) + [(5.5, "call"), (5.625, "fail"), (10.5, "call"), (10.625, "call"),
                                              (10.75, "ok"), (10.875, "call")]),
        ("two successes in half-open close it with probes=2, though only one probe was allowed "
         "(the other was allowed before the trip)", 1,
         calls(8, 0.0) + fails(6, 0.125) + [(2.75, "call"), (2.875, "ok"), (3.0, "ok"), (3.125, "ok"),
                                              (3.25, "call")]),
        ("`probes` is a total for the half-open period, not a number in flight (probes=3)", 2,
         calls(3, 0.0) + fails(3, 0.125) + [(1.375, "call"), (1.375, "call"), (1.5, "ok"), (1.625, "call"),
                                              (1.75, "ok"), (1.875, "call"), (2.0, "ok"), (2.125, "call")]),
        ("the first failed probe reopens at once, without waiting for the others (probes=3)", 2,
         calls(3, 0.0) + fails(3, 0.125) + [(1.375, "call"), (1.375, "call"), (1.375, "call"), (1.5, "fail"),
                                              (1.625, "ok"), (1.75, "ok"), (2.375, "call"), (2.5, "call")]),
        ("a new half-open period counts its successes afresh (probes=2)", 1,
         sum((call_fail(i / 8) for i in range(6)), []) + [(2.625, "call"), (2.625, "call"), (2.75, "ok"),
                                                          (2.875, "fail"), (4.875, "call"), (4.875, "call"),
                                                          (5.0, "ok"), (5.125, "call"), (5.25, "ok"),
                                                          (5.375, "call")]),
    ]


def _generate(rng: random.Random, config: dict):
    """One trace, built while running the reference so that outcomes only end calls
    in flight and some times fall exactly on the window's or the open period's edge."""
    ref = CircuitBreaker(**config)
    failure_share = rng.choice([0.1, 0.3, 0.5, 0.5, 0.7, 0.9])
    concurrency = rng.choice([1, 1, 2, 4])
    steps, now, in_flight = [], 0.0, 0
    for _ in range(rng.randint(4, 60)):
        pick = rng.random()
        edges = []
        if ref.state == OPEN:
            edges.append(ref.opened_at + ref.open_for)
        if ref._outcomes:
            edges.append(ref._outcomes[0][0] + ref.window)
        edges = [e for e in edges if e >= now]
        if edges and pick < 0.25:
            now = rng.choice(edges)
        elif pick < 0.35:
            pass  # same instant
        elif pick < 0.9:
            now += rng.choice([1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2])
        else:
            now += rng.randint(32, int(48 * max(config["window"], config["open_for"]))) / 32
        if in_flight and (in_flight >= concurrency or rng.random() < 0.5):
            ok = rng.random() >= failure_share
            steps.append((now, "ok" if ok else "fail"))
            ref.record(now, ok)
            in_flight -= 1
        else:
            steps.append((now, "call"))
            in_flight += ref.allow(now)
    return steps


@functools.lru_cache(maxsize=1)
def traces():
    """Every trace the differential checks use: ``[(name, config, steps), ...]``."""
    out = [(name, CONFIGS[i], steps) for name, i, steps in _edge_cases()]
    rng = random.Random(2026)
    for number in range(GENERATED):
        config = CONFIGS[number % len(CONFIGS)]
        out.append((f"generated trace #{number + 1}", config, _generate(rng, config)))
    return out


def _state(breaker):
    return state_name(breaker.state)


def _script(config, steps, *, until_first_trip):
    """The steps a breaker is fed (an outcome only ends a call the reference let
    through), each as ``(now, event, reference's answer, reference's state after it)``."""
    ref = CircuitBreaker(**config)
    in_flight, script = 0, []
    for now, event in steps:
        if event == "call":
            allowed = ref.allow(now)
            in_flight += allowed
            answer = "allowed" if allowed else "refused"
        else:
            if in_flight == 0:
                continue
            in_flight -= 1
            ref.record(now, event == "ok")
            answer = ""
        script.append((now, event, answer, _state(ref)))
        if until_first_trip and script[-1][3] == OPEN:
            break
    return script


@measured
def breaker_answers(student_class, runs):
    """Feed each ``(config, script)`` to a new breaker of ``student_class``: its
    ``(answer, state)`` after each step (answer "allowed", "refused", or "" for an
    outcome), ending at a step that raised as ``("raised", what it raised)``."""
    out = []
    for config, script in runs:
        try:
            mine = student_class(**config)
        except NotImplementedError:
            raise
        except Exception as error:
            out.append([("constructor", f"{type(error).__name__}: {error}")])
            continue
        answers = []
        for now, event, *_ in script:
            try:
                if event == "call":
                    answer = "allowed" if mine.allow(now) else "refused"
                else:
                    mine.record(now, event == "ok")
                    answer = ""
                answers.append((answer, _state(mine)))
            except NotImplementedError:
                raise
            except Exception as error:
                answers.append(("raised", f"{type(error).__name__}: {error}"))
                break
        out.append(answers)
    return out


def _compare(script, answers):
    """None if the breaker answered as the reference at every step, else (rows, index of the mismatch)."""
    rows = []
    if answers and answers[0][0] == "constructor":
        return [(0, "-", answers[0][1], "", "your constructor raised")], 0
    for (now, event, expected_answer, expected), found in zip(script, answers):
        if found[0] == "raised":
            rows.append((now, event, f"{expected_answer} {expected}".strip(), f"raised {found[1]}", ""))
            return rows, len(rows) - 1
        your_answer, yours = found
        row = (now, event, f"{expected_answer} {expected}".strip(), f"{your_answer} {yours}".strip())
        if expected != yours or expected_answer != your_answer:
            rows.append((*row, ""))
            return rows, len(rows) - 1
        rows.append((*row, None))
    if len(answers) < len(script):  # cannot happen unless the answers were cut short
        now, event, expected_answer, expected = script[len(answers)]
        rows.append((now, event, f"{expected_answer} {expected}".strip(), "no answer", ""))
        return rows, len(rows) - 1
    return None


def _table(rows, bad):
    lines = ["      time  event  reference          yours", "  --------  -----  -----------------  -----------------"]
    for i, (now, event, expected, yours, _) in enumerate(rows):
        mark = "   <-- first difference" if i == bad else ""
        time = f"{now:>8.6g}" if isinstance(now, (int, float)) else f"{now:>8}"
        lines.append(f"  {time}  {event:<5}  {expected:<17}  {yours:<17}{mark}")
    return "\n".join(lines)


def _differential(student_class, *, until_first_trip):
    if not isinstance(student_class, type):
        raise CheckFailed(f"pass your breaker class itself (e.g. Breaker), got {student_class!r}")
    runs = [(name, config, _script(config, steps, until_first_trip=until_first_trip))
            for name, config, steps in traces()]
    answers = breaker_answers(student_class, [(config, script) for _, config, script in runs])
    failures = []
    for (name, config, script), found in zip(runs, answers):
        found = _compare(script, found)
        if found is not None:
            failures.append((len(found[0]), name, config, found))
    if not failures:
        return len(traces())
    failures.sort(key=lambda f: f[0])
    _, name, config, (rows, bad) = failures[0]
    settings = ", ".join(f"{k}={v:g}" for k, v in config.items())
    raise CheckFailed(
        f"your breaker disagrees with the reference on {len(failures)} of {len(traces())} traces.\n"
        f"Shortest: {name}, with {settings}\n{_table(rows, bad)}"
    )


@graded("l3-trip", points=3,
        hint="While closed, keep (time, failed) for the calls of the last `window` seconds (an outcome "
             "counts while now - t < window) and, after every outcome (a success too), trip when there are at "
             "least minimum_calls of them and failures / calls >= failure_rate. A success must not reset "
             "anything, and every setting comes from the constructor's arguments.")
def check_trip(breaker_class):
    _differential(breaker_class, until_first_trip=True)


@graded("l3-recover", points=3,
        hint="Open refuses calls until now >= opened_at + open_for; the first call then moves it to "
             "half_open (an outcome does not: outcomes recorded while open are ignored). Half-open admits "
             "at most `probes` calls in all (a probe that ended does not free a place); every outcome "
             "recorded in half-open counts as a probe's, even one of a call allowed before the trip: a "
             "failure reopens at once (a new open period from that moment), `probes` successes close "
             "it with an empty window.")
def check_recover(breaker_class):
    _differential(breaker_class, until_first_trip=False)


# -- in the world ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _reference_world_run():
    return lesson.outage_world(lesson.lesson_breaker()).run(lesson.UNTIL)


@graded("l3-world", points=4,
        hint="In the world your breaker must trip within a couple of seconds of B going down, refuse "
             "calls while open (A then answers in about 1 ms with free workers), and let a probe "
             "through after open_for so that it closes soon after B heals.")
def check_world(breaker_class):
    breaker = breaker_class(**lesson.LESSON_BREAKER)
    result = lesson.outage_world(breaker).run(lesson.UNTIL)
    start, end = lesson.OUTAGE
    settle = start + 2.5  # the reference trips about 1.3 s in; A's last hung calls end 0.5 s later
    busy = lesson.peak_busy(result, "A", settle, end)
    if busy > 0.5:
        raise CheckFailed(f"from t = {settle:g} s to {end:g} s, while B is down, up to {busy:.0%} of A's "
                          "workers were busy (the reference keeps it under 5%): A still sends calls to B")
    p99 = lesson.p99(result, "A", settle, end)
    if not p99 < 0.1:
        raise CheckFailed(f"A's p99 latency while B is down was {p99 * 1000:.0f} ms; "
                          "a breaker that is open answers in about 1 ms")
    deadline = end + lesson.LESSON_BREAKER["open_for"] + lesson.TIMEOUT + 0.75
    healed = lesson.recovered_at(result, end)
    if healed > deadline:
        reference = lesson.recovered_at(_reference_world_run(), end)
        when = (f"A never answered ok steadily again before the run ended at t = {lesson.UNTIL:g} s"
                if math.isinf(healed) else f"A answered ok again only from t = {healed:g} s")
        raise CheckFailed(f"B healed at t = {end:g} s but {when} (the reference: from {reference:g} s; "
                          f"allowed: up to {deadline:g} s, the open period plus a probe)")
