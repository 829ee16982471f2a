"""Graded checks of exercise 5: backoff schedules, the retry decision, a retry budget.

The student writes ``no_jitter(retry, rng, base, cap)``, ``full_jitter(...)``,
``equal_jitter(...)``, ``decorrelated_jitter(previous, rng, base, cap)``,
``should_retry(error, attempts, max_attempts)`` and a ``RetryBudget(ratio,
window, min_per_second)`` class with ``record_request(now)`` and
``try_retry(now)``.

Distributions are checked with Kolmogorov-Smirnov tests (scipy) on 2,000
delays drawn from a seeded ``random.Random``, so a check gives the same answer
every time it runs. Each test rejects at a significance level of 1e-6, and the
distribution check runs 6 of them, so a correct implementation (one that draws
its uniform number in any correct way) fails it with probability at most
6 x 1e-6 (union bound), well under 1 in 10,000. The price is power: a KS test
at 1e-6 with 2,000 draws notices a difference in the CDFs above about 0.06,
which every wrong scheme in the tests exceeds many times over.
"""

from __future__ import annotations

import functools
import math
import random

import numpy as np

from ..lessons import retries as lesson
from . import CheckFailed, expect_close, graded, is_number, measured

ALPHA = 1e-6
DRAWS = 2000
BASE, CAP = 0.1, 5.0


def _v(n, base=BASE, cap=CAP):
    return min(cap, base * 2.0**n)


def _number(what, value):
    if not is_number(value) or math.isnan(value):
        raise CheckFailed(f"{what} returned {value!r}, expected a number of seconds")
    return float(value)


@measured
def draws(scheme, calls, seed, fresh=False):
    """``scheme(first, rng, *rest)`` for each ``(first, *rest)`` in ``calls``, with
    ``rng = random.Random(seed)`` (a new one for each call when ``fresh``)."""
    rng = random.Random(seed)
    out = []
    for first, *rest in calls:
        out.append(scheme(first, random.Random(seed) if fresh else rng, *rest))
    return out


@measured
def decorrelated_chain(decorrelated_jitter, seed, count=DRAWS):
    """``count`` delays of decorrelated jitter in chains of ten retries: ``(previous, delay)`` pairs."""
    rng = random.Random(seed)
    previous, out = BASE, []
    for i in range(count):
        got = decorrelated_jitter(previous, rng, BASE, CAP)
        out.append((previous, got))
        try:
            previous = float(got) if i % 10 else BASE
        except (TypeError, ValueError):
            break
    return out


@graded("l5-limits", points=2,
        hint="v = min(cap, base * 2**retry). No jitter waits exactly v; Full Jitter stays within [0, v], "
             "Equal within [v/2, v], Decorrelated within [base, min(cap, 3 * previous)]. Never above cap.")
def check_limits(no_jitter, full_jitter, equal_jitter, decorrelated_jitter):
    retries = [*range(12), 2000]
    for n, got in zip(retries, draws(no_jitter, [(n, BASE, CAP) for n in retries], 0, fresh=True)):
        expect_close(f"no_jitter({n}, rng, {BASE}, {CAP})" + (" (a huge retry number)" if n == 2000 else ""),
                     got, CAP if n == 2000 else _v(n))
    calls = [(i % 16, BASE, CAP) for i in range(DRAWS)]
    for scheme, low, name in ((full_jitter, lambda v: 0.0, "full_jitter"), (equal_jitter, lambda v: v / 2, "equal_jitter")):
        for (n, _, _), value in zip(calls, draws(scheme, calls, 11)):
            got = _number(f"{name}({n}, rng, {BASE}, {CAP})", value)
            v = _v(n)
            if not (low(v) - 1e-12 <= got <= v + 1e-12):
                raise CheckFailed(f"{name}({n}, rng, {BASE}, {CAP}) returned {got:.4g}, outside "
                                  f"[{low(v):.4g}, {v:.4g}] (v = min(cap, base * 2**{n}) = {v:.4g})")
    for previous, value in decorrelated_chain(decorrelated_jitter, 11):
        got = _number(f"decorrelated_jitter({previous:.4g}, rng, {BASE}, {CAP})", value)
        high = min(CAP, 3 * previous)
        if not (BASE - 1e-12 <= got <= high + 1e-12):
            raise CheckFailed(f"decorrelated_jitter({previous:.4g}, rng, {BASE}, {CAP}) returned {got:.4g}, "
                              f"outside [{BASE}, {high:.4g}]")


def _ks(what, draws, cdf, expected):
    from scipy import stats

    result = stats.kstest(np.asarray(draws, dtype=float), cdf)
    if result.pvalue < ALPHA:
        raise CheckFailed(f"{what}: {DRAWS} delays do not follow {expected} (Kolmogorov-Smirnov D = "
                          f"{result.statistic:.3f}, p = {result.pvalue:.1e} < {ALPHA:g}); "
                          f"their mean is {np.mean(draws):.4g} s")


def _uniform_cdf(low, high):
    def cdf(x):
        return np.clip((np.asarray(x, dtype=float) - low) / (high - low), 0.0, 1.0)
    return cdf


@graded("l5-distributions", points=3,
        hint="Draw one uniform number from the rng you are given, over the right interval: Full Jitter "
             "U(0, v); Equal Jitter v/2 + U(0, v/2); Decorrelated min(cap, U(base, 3 * previous)).")
def check_distributions(full_jitter, equal_jitter, decorrelated_jitter):
    cases = [
        ("full_jitter(3, rng, 0.1, 5)", full_jitter, 3, _uniform_cdf(0, 0.8), "U(0, 0.8)"),
        ("full_jitter(9, rng, 0.1, 5) (capped)", full_jitter, 9, _uniform_cdf(0, 5), "U(0, 5)"),
        ("equal_jitter(2, rng, 0.1, 5)", equal_jitter, 2, _uniform_cdf(0.2, 0.4), "U(0.2, 0.4)"),
        ("equal_jitter(8, rng, 0.1, 5) (capped)", equal_jitter, 8, _uniform_cdf(2.5, 5), "U(2.5, 5)"),
        ("decorrelated_jitter(0.3, rng, 0.1, 5)", decorrelated_jitter, 0.3, _uniform_cdf(0.1, 0.9), "U(0.1, 0.9)"),
        ("decorrelated_jitter(1, rng, 0.1, 5)", decorrelated_jitter, 1.0, _uniform_cdf(0.1, 3.0), "U(0.1, 3)"),
    ]
    for i, (what, scheme, first, cdf, expected) in enumerate(cases):
        values = draws(scheme, [(first, BASE, CAP)] * DRAWS, f"l5-distributions/{i}")
        _ks(what, [_number(what, v) for v in values], cdf, expected)


TRANSIENT_ERRORS = ["timeout", "connection", 503, 429]
PERMANENT_ERRORS = [400, 404, 401, 403, 422, "rejected"]


@graded("l5-what-to-retry", points=2,
        hint="Retry only errors that may go away (timeouts, connection errors, 503, 429), and only while "
             "fewer than max_attempts attempts have been made.")
def check_what_to_retry(should_retry):
    for error in TRANSIENT_ERRORS:
        for attempts, max_attempts, expected in [(1, 3, True), (2, 3, True), (3, 3, False), (1, 1, False), (4, 5, True)]:
            got = should_retry(error, attempts, max_attempts)
            if bool(got) != expected:
                why = "it is transient and attempts remain" if expected else f"{max_attempts} attempts were made"
                raise CheckFailed(f"should_retry({error!r}, {attempts}, {max_attempts}) returned {got!r}, "
                                  f"expected {expected} ({why})")
    for error in PERMANENT_ERRORS:
        got = should_retry(error, 1, 3)
        if bool(got):
            raise CheckFailed(f"should_retry({error!r}, 1, 3) returned {got!r}: a {error} fails the same way "
                              "every time, retrying it only adds load")


def _windows(requests, retries, window=10.0, seconds=100.0):
    edges = np.arange(0.0, seconds + window, window)
    return np.histogram(requests, edges)[0], np.histogram(retries, edges)[0]


@measured
def budget_times(RetryBudget, **settings):
    """:func:`~resilience_lab.lessons.retries.budget_trace` of ``RetryBudget(**settings)``:
    (request times, times of the retries it allowed)."""
    requests, retries = lesson.budget_trace(lambda: RetryBudget(**settings))
    return [float(t) for t in requests], [float(t) for t in retries]


@graded("l5-budget", points=3,
        hint="Keep counts of requests and of retries over the last `window` seconds; allow a retry while "
             "retries + 1 <= ratio * requests + min_per_second * window, and count it when you allow it.")
def check_budget(RetryBudget):
    # Every attempt fails for 100 s; 100 requests a second each want 2 retries.
    requests, retries = budget_times(RetryBudget, ratio=0.1, window=10.0, min_per_second=0.0)
    per_window_requests, per_window_retries = _windows(requests, retries)
    worst = int(np.argmax(per_window_retries / per_window_requests))
    if per_window_retries[worst] > 0.11 * per_window_requests[worst]:
        raise CheckFailed(f"with ratio 0.1 the budget allowed {per_window_retries[worst]} retries for "
                          f"{per_window_requests[worst]} requests in the 10 s from t = {10 * worst} s")
    if len(retries) < 0.09 * len(requests):
        raise CheckFailed(f"with ratio 0.1 the budget allowed only {len(retries)} retries for {len(requests)} "
                          f"requests; it should allow about {0.1 * len(requests):.0f}")
    _, retries = budget_times(RetryBudget, ratio=0.0, window=10.0, min_per_second=2.0)
    _, per_window_retries = _windows(requests, retries)
    if per_window_retries.max() > 22 or len(retries) < 180:
        raise CheckFailed(f"with ratio 0 and min_per_second 2 the budget should allow about 20 retries per "
                          f"10 s; it allowed {per_window_retries.tolist()}")


#: Jitter must cut the peak load on the database after it recovers by at least this factor.
HERD_FACTOR = 4.0


@functools.lru_cache(maxsize=4)
def _herd(scheme):
    return lesson.herd_world(lesson.FunctionBackoff(scheme, 0.1, 5.0)).run(4.0)


@measured
def herd_peaks(no_jitter, full_jitter):
    """The peak attempts per second on the database after it recovers, without
    jitter and with full jitter."""
    return [lesson.peak_after(_herd(no_jitter)), lesson.peak_after(_herd(full_jitter))]


@graded("l5-herd", points=2,
        hint="Without jitter every request that failed together retries together. Full Jitter spreads "
             "each retry over [0, v]; check your full_jitter draws from the rng it is given.")
def check_herd(no_jitter, full_jitter):
    lockstep, jittered = herd_peaks(no_jitter, full_jitter)
    if not lockstep >= 5000:
        raise CheckFailed(f"without jitter the peak after recovery was only {lockstep:,.0f} attempts/s; "
                          "no_jitter should make the 500 failed requests retry together")
    if not jittered * HERD_FACTOR <= lockstep:
        raise CheckFailed(f"with full jitter the peak after recovery was {jittered:,.0f} attempts/s against "
                          f"{lockstep:,.0f} without: jitter must cut it at least {HERD_FACTOR:g}x")
