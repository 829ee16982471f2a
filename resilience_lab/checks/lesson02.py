"""Graded checks of exercise 2: a timeout policy in the simulated world, and a
timeout chosen from latency samples under a false-timeout budget.

The world (:func:`resilience_lab.lessons.timeouts.outage_world`): the load calls
A (50 workers) at 150 per second, A calls B (about 20 ms). The student's policy
guards A's calls to B. Healthy, B's answers must come through unchanged (and its
errors as errors); when B hangs, every call must end as ``timeout`` exactly
``seconds`` after it started, so A's pool stays bounded (150 x 0.1 = 15 of 50
workers) and A stays responsive.
"""

from __future__ import annotations

import functools
import math
import random

import numpy as np

from ..lessons import timeouts as lesson
from ..outcomes import Outcome
from ..patterns.deadline import choose_timeout as reference_choose
from . import CheckFailed, expect_close, graded, is_number, measured

SECONDS = 0.1
HANG = (2.0, 6.0)


def _outcomes(result, since=0.0, until=math.inf):
    mask = result.calls_to("B", "A") & (result.start >= since) & (result.start < until)
    return result.outcome[mask], result.latency[mask]


@functools.lru_cache(maxsize=1)
def _plain_healthy():
    return lesson.outage_world(None, hang=False).run(until=3)


def _counts(outcomes):
    names, counts = np.unique(outcomes, return_counts=True)
    return {Outcome(int(o)).label: int(n) for o, n in zip(names, counts)}


def _labels(counts):
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "no calls"


@measured
def policy_runs(policy_class):
    """What ``policy_class`` does in the lesson's world, as plain numbers: the
    outcomes of A's calls to B when healthy (1 s timeout), when B answers every
    call with an error, and while B hangs (100 ms timeout); how long the hung
    calls waited, A's busiest share of workers and its p99 latency then."""
    policy = policy_class(SECONDS)
    if not callable(getattr(policy, "wrap", None)):
        return {"wrap": repr(policy)[:100]}
    healthy = lesson.outage_world(policy_class(1.0), hang=False).run(until=3)
    failing = lesson.outage_world(policy_class(1.0), hang=False, b_error_rate=1.0).run(until=2)
    hung = lesson.outage_world(policy_class(SECONDS), outage=HANG).run(until=HANG[1] + 1)
    got, latency = _outcomes(hung, HANG[0], HANG[1] - SECONDS)
    return {"healthy": _counts(_outcomes(healthy, until=2.5)[0]), "failing": _counts(_outcomes(failing, until=1.5)[0]),
            "hung": _counts(got), "waited": [float(latency.min()), float(latency.max())] if len(latency) else [],
            "busy": lesson.peak_busy(hung, "A", HANG[0] + 0.5, HANG[1]),
            "p99": lesson.p99(hung, "A", HANG[0] + 0.5, HANG[1] - SECONDS)}


@graded("l2-timeout-policy", points=4,
        hint="Start the call as its own process (env.process(call(ctx))), start a timer "
             "(env.timeout(seconds)), and wait for whichever comes first: yield answer | timer. "
             "If the answer came first (answer.triggered), return its value; otherwise return Outcome.TIMEOUT.")
def check_timeout_policy(policy_class):
    runs = policy_runs(policy_class)
    if "wrap" in runs:
        raise CheckFailed(f"your policy {runs['wrap']} has no wrap(run, caller, target, call) method")

    # 1. Healthy: the answers come through unchanged.
    expected = _counts(_outcomes(_plain_healthy(), until=2.5)[0])
    if runs["healthy"] != {"ok": sum(expected.values())}:
        raise CheckFailed(f"with a 1 s timeout and B answering in about 20 ms, A's calls to B ended as: "
                          f"{_labels(runs['healthy'])}; without a timeout: {_labels(expected)}")

    # 2. B's errors stay errors: only waiting too long is a timeout.
    if set(runs["failing"]) - {"error"}:
        raise CheckFailed(f"B answered every call with an error, and your policy returned: "
                          f"{_labels(runs['failing'])}; pass B's answer on unchanged when it comes in time")

    # 3. B hangs: every call gives up after exactly `seconds`, and A stays bounded.
    hung = runs["hung"]
    if set(hung) != {"timeout"}:
        stuck = " (unfinished: A was still waiting when the run ended)" if "unfinished" in hung else ""
        raise CheckFailed(f"while B hangs, A's calls to B ended as: {_labels(hung)}{stuck}; "
                          f"every one should be a timeout after {SECONDS} s")
    low, high = runs["waited"]
    if not (abs(low - SECONDS) <= 1e-9 and abs(high - SECONDS) <= 1e-9):
        raise CheckFailed(f"while B hangs, A gave up after {low:.3f} to {high:.3f} s, "
                          f"not {SECONDS} s: time the call with env.timeout(seconds) and stop waiting when it fires")
    busy, p99 = runs["busy"], runs["p99"]
    if not (busy <= 0.6 and p99 <= SECONDS + 0.02):
        raise CheckFailed(f"while B hangs, up to {busy:.0%} of A's workers were busy and A's p99 was "
                          f"{p99 * 1000:.0f} ms; with a {SECONDS * 1000:.0f} ms timeout expect about 30% "
                          f"and {SECONDS * 1000:.0f} ms")


def _accepts(samples, budget, got):
    """The interval of timeouts that let exactly the allowed number of samples time out."""
    values = sorted(samples)
    n = len(values)
    allowed = math.floor(budget * n + 1e-9)
    low = values[n - 1 - allowed]
    high = values[n - allowed] if allowed else low
    if allowed:
        return low <= got < high, f"a value from {low:g} up to (not including) {high:g}"
    return got == low, f"{low:g}"


@graded("l2-choose-timeout", points=3,
        hint="Sort the samples. With n samples, floor(budget * n) of them may be slower than the "
             "timeout, no more. Return the smallest sample that leaves exactly that many above it.")
def check_choose_timeout(choose_timeout):
    steps = [i / 100 for i in range(1, 101)]  # 0.01 ... 1.00 s
    shuffled = steps[:]
    random.Random(3).shuffle(shuffled)
    cases = [(steps, 0.01), (steps, 0.05), (shuffled, 0.1), (steps, 0.019), (steps, 0.0),
             (np.array(shuffled), 0.25), ([0.2, 0.2, 0.3, 0.5], 0.25)]
    for samples, budget in cases:
        what = f"choose_timeout({'a shuffled list of' if samples is shuffled else 'the'} {len(samples)} " \
               f"samples from {min(samples):g} to {max(samples):g} s, {budget})"
        got = choose_timeout(samples, budget)
        if not is_number(got):
            raise CheckFailed(f"{what} returned {got!r}, expected a number of seconds")
        ok, wanted = _accepts(list(samples), budget, float(got))
        if not ok:
            above = sum(s > got for s in samples)
            raise CheckFailed(f"{what} returned {float(got):g}: {above} of {len(samples)} samples are above it "
                              f"(at most {math.floor(budget * len(samples) + 1e-9)} may be); expected {wanted}")

    # In the world: measured latencies, a 1% budget, then a healthy day with that timeout.
    budget = 0.01
    samples = lesson.latency_samples(2000, seed=21)
    chosen = float(choose_timeout(list(samples), budget))
    expect_close("choose_timeout(2,000 measured latencies of B, 0.01)", chosen,
                 reference_choose(samples, budget), rel=1e-9)
    result = lesson.outage_world(chosen, hang=False, seed=22).run(until=20)
    share = lesson.false_timeout_share(result)
    if share > 2 * budget:
        raise CheckFailed(f"with your timeout of {chosen * 1000:.1f} ms, {share:.1%} of healthy calls timed out "
                          f"(budget {budget:.0%})")
