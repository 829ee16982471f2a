"""Graded checks of exercise 2: a timeout policy in the simulated world, and a
timeout chosen from latency samples under a false-timeout budget.

The world (:func:`resilience_lab.lessons.timeouts.outage_world`): the load calls
A (50 workers) at 150 per second, A calls B (about 20 ms). The student's policy
guards A's calls to B. Whatever B answers in time must come through unchanged:
``ok``, ``error``, and the ``rejected`` / ``short-circuited`` of a bulkhead or an
open breaker placed between the policy and B; and it must come through as soon as
it comes. When B hangs, every call must end as ``timeout`` exactly ``seconds``
after it started (checked at 0.1 s and at 0.25 s), so A's pool stays bounded
(150 x 0.1 = 15 of 50 workers) and A stays responsive. With a timeout near B's
median (20 ms), exactly the calls B answers later than that must time out: the
counts must equal the reference's in the same world.

``choose_timeout`` must return exactly the ``(n - k)``-th smallest sample, ``k =
floor(budget * n)``: small hand-checkable cases (ties at the boundary, budget 0,
unsorted lists, a numpy array), then 2,000 latencies measured in the world.
"""

from __future__ import annotations

import functools
import math
import random

import numpy as np

from ..lessons import timeouts as lesson
from ..outcomes import Outcome
from ..patterns.bulkhead import Bulkhead
from ..patterns.circuit_breaker import CircuitBreaker
from ..patterns.deadline import choose_timeout as reference_choose
from ..patterns.timeout import Timeout
from . import CheckFailed, graded, is_number, measured

SECONDS = 0.1
HANG = (2.0, 6.0)
#: A second timeout value, so a policy that ignores its argument is seen.
OTHER_SECONDS = 0.25
OTHER_HANG = (1.0, 3.0)
#: A timeout near B's median latency: about half of the healthy calls are late.
RACE_SECONDS = 0.02
#: The bulkhead between the policy and B in the "crowded" run (calls beyond it are rejected).
CROWD_PERMITS = 3


def _outcomes(result, since=0.0, until=math.inf):
    mask = result.calls_to("B", "A") & (result.start >= since) & (result.start < until)
    return result.outcome[mask], result.latency[mask]


def _crowded_world(policy):
    """A healthy B behind a bulkhead of CROWD_PERMITS that rejects at once; ``policy`` outside it."""
    world = lesson.outage_world(None, hang=False)
    return world.protect("A", "B", policy, Bulkhead(CROWD_PERMITS))


def _open_world(policy):
    """A healthy B behind a breaker forced open (every call short-circuited); ``policy`` outside it."""
    breaker = CircuitBreaker()
    breaker.force_open(0.0)
    return lesson.outage_world(None, hang=False).protect("A", "B", policy, breaker)


@functools.lru_cache(maxsize=1)
def _reference():
    """What the reference timeout (and no timeout) does in the same worlds as :func:`policy_runs`."""
    plain = lesson.outage_world(None, hang=False).run(until=3)
    got, latency = _outcomes(plain, until=2.5)
    return {"healthy": _counts(got),
            "healthy_latency": [float(np.median(latency)), float(latency.max())],
            "crowded": _counts(_outcomes(_crowded_world(Timeout(1.0)).run(until=2), until=1.5)[0]),
            "race": _counts(_outcomes(lesson.outage_world(RACE_SECONDS, hang=False).run(until=3), until=2.5)[0])}


def _counts(outcomes):
    names, counts = np.unique(outcomes, return_counts=True)
    return {Outcome(int(o)).label: int(n) for o, n in zip(names, counts)}


def _labels(counts):
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no calls"


@measured
def policy_runs(policy_class):
    """What ``policy_class`` does in the lesson's world, as plain numbers: the
    outcomes of A's calls to B (and how long they took) when healthy (1 s timeout),
    when B answers every call with an error, when a bulkhead between the policy and
    B rejects calls, when an open breaker there short-circuits them, while B hangs
    (100 ms timeout, then 250 ms), and with a 20 ms timeout on a healthy B; how long
    the hung calls waited, A's busiest share of workers and its p99 latency then.

    If the policy raises, ``{"raised": ..., "during": ...}`` says where."""
    policy = policy_class(SECONDS)
    if not callable(getattr(policy, "wrap", None)):
        return {"wrap": repr(policy)[:100]}
    runs = {}
    during = "the run with B healthy and a 1 s timeout"
    try:
        healthy = lesson.outage_world(policy_class(1.0), hang=False).run(until=3)
        got, latency = _outcomes(healthy, until=2.5)
        runs["healthy"] = _counts(got)
        latency = latency[got != Outcome.UNFINISHED]
        runs["healthy_latency"] = [float(np.median(latency)), float(latency.max())] if len(latency) else [0.0, 0.0]
        during = "the run with B failing every call and a 1 s timeout"
        failing = lesson.outage_world(policy_class(1.0), hang=False, b_error_rate=1.0).run(until=2)
        runs["failing"] = _counts(_outcomes(failing, until=1.5)[0])
        during = f"the run with a bulkhead of {CROWD_PERMITS} rejecting calls to B and a 1 s timeout"
        runs["crowded"] = _counts(_outcomes(_crowded_world(policy_class(1.0)).run(until=2), until=1.5)[0])
        during = "the run with an open breaker short-circuiting calls to B and a 1 s timeout"
        runs["open"] = _counts(_outcomes(_open_world(policy_class(1.0)).run(until=2), until=1.5)[0])
        during = f"the run with B hanging and a {SECONDS} s timeout"
        hung = lesson.outage_world(policy_class(SECONDS), outage=HANG).run(until=HANG[1] + 1)
        got, latency = _outcomes(hung, HANG[0], HANG[1] - SECONDS)
        runs.update(hung=_counts(got), waited=[float(latency.min()), float(latency.max())] if len(latency) else [],
                    busy=lesson.peak_busy(hung, "A", HANG[0] + 0.5, HANG[1]),
                    p99=lesson.p99(hung, "A", HANG[0] + 0.5, HANG[1] - SECONDS))
        during = f"the run with B hanging and a {OTHER_SECONDS} s timeout"
        other = lesson.outage_world(policy_class(OTHER_SECONDS), outage=OTHER_HANG).run(until=OTHER_HANG[1] + 0.5)
        got, latency = _outcomes(other, OTHER_HANG[0], OTHER_HANG[1] - OTHER_SECONDS)
        runs.update(other=_counts(got),
                    other_waited=[float(latency.min()), float(latency.max())] if len(latency) else [])
        during = f"the run with B healthy and a {RACE_SECONDS} s timeout"
        race = lesson.outage_world(policy_class(RACE_SECONDS), hang=False).run(until=3)
        runs["race"] = _counts(_outcomes(race, until=2.5)[0])
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001  (the student's policy raised: say in which run)
        return {"raised": f"{type(error).__name__}: {error}", "during": during}
    return runs


def _ms(seconds):
    return f"{seconds * 1000:.1f} ms"


@graded("l2-timeout-policy", points=4,
        hint="Start the call as its own process (env.process(call(ctx))), start a timer "
             "(env.timeout(self.seconds)), and wait for whichever comes first: yield answer | timer. "
             "If the answer came first (answer.triggered), return its value, whatever it is; "
             "otherwise return Outcome.TIMEOUT.")
def check_timeout_policy(policy_class):
    runs = policy_runs(policy_class)
    if "wrap" in runs:
        raise CheckFailed(f"your policy {runs['wrap']} has no wrap(run, caller, target, call) method")
    if "raised" in runs:
        raise CheckFailed(f"in {runs['during']}, your policy raised {runs['raised']}")
    reference = _reference()

    # 1. Healthy: the answers come through unchanged, and as soon as they come.
    expected = reference["healthy"]
    (median, longest), (plain_median, plain_longest) = runs["healthy_latency"], reference["healthy_latency"]
    if runs["healthy"] != {"ok": sum(expected.values())}:
        stuck = " (unfinished: A was still waiting when the run ended)" if "unfinished" in runs["healthy"] else ""
        raise CheckFailed(f"with a 1 s timeout and B answering in about 20 ms, A's calls to B ended as: "
                          f"{_labels(runs['healthy'])}{stuck}, the finished ones in {_ms(median)} at the median; "
                          f"without a timeout: {_labels(expected)} in {_ms(plain_median)}")
    if abs(median - plain_median) > 1e-9 or abs(longest - plain_longest) > 1e-9:
        raise CheckFailed(f"with a 1 s timeout and B answering in about 20 ms, A's calls to B took "
                          f"{_ms(median)} at the median and {_ms(longest)} at most; without a timeout "
                          f"{_ms(plain_median)} and {_ms(plain_longest)}: stop waiting as soon as the answer "
                          f"comes (yield answer | timer), not when the timer fires")

    # 2. B's errors stay errors: only waiting too long is a timeout.
    if set(runs["failing"]) - {"error"}:
        raise CheckFailed(f"B answered every call with an error, and your policy returned: "
                          f"{_labels(runs['failing'])}; pass B's answer on unchanged when it comes in time")

    # 3. Any other answer that comes in time passes through unchanged too.
    if runs["crowded"] != reference["crowded"]:
        raise CheckFailed(f"with a 1 s timeout in front of a bulkhead of {CROWD_PERMITS} that rejects the calls "
                          f"beyond it (at once), A's calls to B ended as: {_labels(runs['crowded'])}; "
                          f"expected {_labels(reference['crowded'])}: pass every answer that comes in time "
                          f"on unchanged, whatever it is")
    if set(runs["open"]) != {"short-circuited"}:
        raise CheckFailed(f"with a 1 s timeout in front of an open circuit breaker (it answers every call "
                          f"short-circuited, at once), A's calls to B ended as: {_labels(runs['open'])}; "
                          f"expected all short-circuited: pass every answer that comes in time on unchanged")

    # 4. B hangs: every call gives up after exactly `seconds`, and A stays bounded.
    for seconds, counts, waited in ((SECONDS, runs["hung"], runs["waited"]),
                                    (OTHER_SECONDS, runs["other"], runs["other_waited"])):
        if set(counts) != {"timeout"}:
            stuck = " (unfinished: A was still waiting when the run ended)" if "unfinished" in counts else ""
            raise CheckFailed(f"with a {seconds} s timeout, while B hangs, A's calls to B ended as: "
                              f"{_labels(counts)}{stuck}; every one should be a timeout after {seconds} s")
        low, high = waited
        if not (abs(low - seconds) <= 1e-9 and abs(high - seconds) <= 1e-9):
            raise CheckFailed(f"with a {seconds} s timeout (MyTimeout({seconds})), while B hangs, A gave up after "
                              f"{low:.3f} to {high:.3f} s, not {seconds} s: time the call with "
                              f"env.timeout(self.seconds) and stop waiting when it fires")
        if seconds == SECONDS:
            busy, p99 = runs["busy"], runs["p99"]
            if not (busy <= 0.6 and p99 <= SECONDS + 0.02):
                raise CheckFailed(f"while B hangs, up to {busy:.0%} of A's workers were busy and A's p99 was "
                                  f"{p99 * 1000:.0f} ms; with a {SECONDS * 1000:.0f} ms timeout expect about 30% "
                                  f"and {SECONDS * 1000:.0f} ms")

    # 5. A race: with a timeout near B's median, exactly the late answers time out.
    if runs["race"] != reference["race"]:
        raise CheckFailed(f"with a {RACE_SECONDS * 1000:.0f} ms timeout (MyTimeout({RACE_SECONDS})) and B healthy "
                          f"(about 20 ms), A's calls to B ended as: {_labels(runs['race'])}; expected "
                          f"{_labels(reference['race'])}: a call times out exactly when B's answer takes longer "
                          f"than the timeout")


def _allowed(budget, n):
    """How many of ``n`` samples may exceed the timeout: ``floor(budget * n)`` (exact
    products such as 0.01 x 100 stay whole in spite of floating point)."""
    return math.floor(budget * n + 1e-9)


def _describe(samples, name=None):
    """How a message names a list of samples: the list itself when it is short."""
    values = [float(x) for x in samples]
    kind = "np.array(" if isinstance(samples, np.ndarray) else ""
    if len(values) <= 10:
        listed = "[" + ", ".join(f"{v:g}" for v in values) + "]"
        return f"{kind}{listed})" if kind else listed
    return f"{name or 'the'} {len(values)} samples from {min(values):g} to {max(values):g} s"


STEPS = [i / 100 for i in range(1, 101)]  # 0.01 ... 1.00 s, sorted
SHUFFLED = STEPS[:]
random.Random(3).shuffle(SHUFFLED)


def _cases():
    """(samples, budget, how a message names the samples if they are long). Every answer
    is exactly one of the samples, the (n - k)-th smallest with k = floor(budget * n)."""
    return [
        (STEPS, 0.01, "the sorted"),                        # k = 1: the second largest, 0.99
        (STEPS, 0.05, "the sorted"),
        (SHUFFLED, 0.1, "a shuffled list of the"),          # unsorted input
        (STEPS, 0.019, "the sorted"),                       # 1.9 allowed: 1, not 2
        (STEPS, 0.0, "the sorted"),                         # nothing may time out: the largest
        (np.array(SHUFFLED), 0.25, "a shuffled numpy array of the"),
        ([0.3, 0.2, 0.5, 0.2], 0.25, None),                 # k = 1: 0.3
        ([0.08, 0.12, 0.08, 0.05, 0.08], 0.4, None),        # tie at the boundary: k = 2 but only 1 above 0.08
        ([0.2, 0.2, 0.2], 0.5, None),                       # all equal: k = 1, none above
        ([0.4, 0.1, 0.1, 0.5, 0.1, 0.3, 0.1, 0.2], 0.25, None),  # k = 2: 0.3, with repeats below it
        ([0.3], 0.5, None),                                 # one sample
        ([0.3, 0.1, 0.2], 0.99, None),                      # k = 2 of 3: the smallest
    ]


def _call(choose_timeout, what, samples, budget):
    """The student's answer, or a failed check naming the call that raised."""
    try:
        return choose_timeout(samples, budget)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001
        raise CheckFailed(f"{what} raised {type(error).__name__}: {error}") from None


@graded("l2-choose-timeout", points=3,
        hint="Sort the samples. With n samples, k = floor(budget * n) of them may be slower than the "
             "timeout, no more. Return the (n - k)-th smallest sample (index n - 1 - k of the sorted "
             "list): at most k samples are above it (fewer when it ties with the ones above), and any "
             "smaller timeout would leave more than k above it.")
def check_choose_timeout(choose_timeout):
    for samples, budget, name in _cases():
        what = f"choose_timeout({_describe(samples, name)}, {budget})"
        got = _call(choose_timeout, what, samples, budget)
        if not is_number(got) or math.isnan(got):
            raise CheckFailed(f"{what} returned {got!r}, expected a number of seconds")
        values = sorted(float(x) for x in samples)
        n, allowed = len(values), _allowed(budget, len(values))
        wanted = values[n - 1 - allowed]
        got = float(got)
        if abs(got - wanted) > 1e-12 * max(1.0, abs(wanted)):
            above = sum(v > got for v in values)
            why = (f"{above} of {n} samples are above it (at most {allowed} may be)" if above > allowed else
                   f"{above} of {n} samples are above it, but {wanted:g} is smaller and also leaves at most "
                   f"{allowed} above it" if got > wanted else f"{above} of {n} samples are above it")
            raise CheckFailed(f"{what} returned {got:g}: {why}; expected {wanted:g}")

    # In the world: measured latencies, a 1% budget, then a healthy day with that timeout.
    budget = 0.01
    samples = lesson.latency_samples(2000, seed=21)
    what = "choose_timeout(2,000 measured latencies of B, 0.01)"
    chosen = _call(choose_timeout, what, list(samples), budget)
    wanted = reference_choose(samples, budget)
    if not is_number(chosen) or math.isnan(chosen):
        raise CheckFailed(f"{what} returned {chosen!r}, expected a number of seconds")
    chosen = float(chosen)
    if not math.isclose(chosen, wanted, rel_tol=1e-9):
        above, above_wanted = int(np.sum(samples > chosen)), int(np.sum(samples > wanted))
        raise CheckFailed(f"{what} returned {chosen:.9g}: {above} of them are above it; expected {wanted:.9g}, "
                          f"the {len(samples) - _allowed(budget, len(samples)):,}th smallest "
                          f"({above_wanted} above it)")
    result = lesson.outage_world(chosen, hang=False, seed=22).run(until=20)
    share = lesson.false_timeout_share(result)
    if share > 2 * budget:
        raise CheckFailed(f"with your timeout of {chosen * 1000:.1f} ms, {share:.1%} of healthy calls timed out "
                          f"(budget {budget:.0%})")
