"""Graded checks of exercise 5: backoff schedules, the retry decision, a retry budget.

The student writes ``no_jitter(retry, rng, base, cap)``, ``full_jitter(...)``,
``equal_jitter(...)``, ``decorrelated_jitter(previous, rng, base, cap)``,
``should_retry(error, attempts, max_attempts, *, idempotent=True,
idempotency_key=None)`` and a ``RetryBudget(ratio, window, min_per_second)``
class with ``record_request(now)`` and ``try_retry(now)``.

Every schedule is tried at the lesson's base and cap (0.1 s, 5 s) and at others
(:data:`SETTINGS`), so a schedule that hard-codes them fails. Every call to the
student's code is made inside a ``@measured`` function, which returns what the
call raised as data: a message names the call that raised.

Distributions are checked with Kolmogorov-Smirnov tests (scipy) on 2,000
delays drawn from a seeded ``random.Random``, so a check gives the same answer
every time it runs. Each test rejects at a significance level of 1e-6, and the
distribution check runs 15 of them (13 KS tests, and 2 binomial tests of how
often decorrelated jitter returns the cap), so a correct implementation (one
that draws its uniform number in any correct way) fails it with probability at
most 15 x 1e-6 (union bound), well under 1 in 10,000. The price is power: a KS
test at 1e-6 with 2,000 draws notices a difference in the CDFs above about
0.06, which every wrong scheme in the tests exceeds many times over. The same
check asks that the delays come from the ``rng`` given: the same seed twice must
give the same delays, two seeds different ones.

The budget is checked first on a small script whose every answer can be worked
out by hand (:data:`BUDGET_SCRIPT`), then on a 100 s outage for its rates.
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
#: The (base, cap) pairs the schedules are tried at: the lesson's, one where a
#: hard-coded 0.1 s / 5 s gives too long delays, one where it gives too short ones.
SETTINGS = [(BASE, CAP), (0.02, 1.5), (0.25, 30.0)]
#: Retry numbers no_jitter must answer exactly: the growth, the cap, and huge
#: ones (2.0 ** 1024 overflows, 2.0 ** 1023 does not).
NO_JITTER_RETRIES = [*range(13), 20, 1023, 1024, 2000]


def _v(n, base=BASE, cap=CAP):
    return cap if n >= 1024 else min(cap, base * 2.0**n)


def _g(x):
    return f"{x:g}"


# -- calling the student's code, inside a measurement ------------------------------
def _plain(value):
    """What a student's function returned, as plain data: a number as a float,
    None/bool/str as they are, anything else as ``{"other": its repr}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if is_number(value):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            pass
    return {"other": repr(value)[:100]}


def _attempt(function, *args, **kwargs):
    """``function(*args, **kwargs)`` as plain data; ``{"raised": ...}`` if it raised.
    ``NotImplementedError`` (an untouched stub) goes through: the check says so."""
    try:
        return _plain(function(*args, **kwargs))
    except NotImplementedError:
        raise
    except Exception as error:  # the student's code raised: return it as data, with the call
        return {"raised": f"{type(error).__name__}: {error}"}


def _raised(answer):
    return isinstance(answer, dict) and "raised" in answer


def _shown(answer):
    if isinstance(answer, dict) and "other" in answer:
        return answer["other"]
    return repr(answer)


def _truth(answer):
    """What a yes-or-no answer means: its truth for a plain value (True, False,
    None, a number, a str), None for anything else."""
    if answer is None or isinstance(answer, (bool, str)) or is_number(answer):
        return bool(answer)
    return None


def _number(what, answer):
    """The number a call returned, or a failed check naming the call."""
    if _raised(answer):
        raise CheckFailed(f"{what} raised {answer['raised']}")
    if not is_number(answer) or math.isnan(answer):
        raise CheckFailed(f"{what} returned {_shown(answer)}, expected a number of seconds")
    return float(answer)


@measured
def draws(scheme, calls, seed, fresh=False):
    """``scheme(first, rng, *rest)`` for each ``(first, *rest)`` in ``calls``, with
    ``rng = random.Random(seed)`` (a new one for each call when ``fresh``); what
    a call raised comes back as ``{"raised": ...}``."""
    rng = random.Random(seed)
    return [_attempt(scheme, first, random.Random(seed) if fresh else rng, *rest) for first, *rest in calls]


@measured
def decorrelated_chain(decorrelated_jitter, seed, base=BASE, cap=CAP, count=DRAWS):
    """``count`` delays of decorrelated jitter in chains of ten retries: ``(previous, delay)`` pairs."""
    rng = random.Random(seed)
    previous, out = base, []
    for i in range(count):
        got = _attempt(decorrelated_jitter, previous, rng, base, cap)
        out.append((previous, got))
        if not is_number(got) or math.isnan(got):
            break
        previous = got if i % 10 else base
    return out


@measured
def repeats(scheme, first, base, cap, seeds, count=20):
    """For each seed, ``count`` draws of ``scheme(first, rng, base, cap)`` from one
    ``rng = random.Random(seed)``."""
    out = []
    for seed in seeds:
        rng = random.Random(seed)
        out.append([_attempt(scheme, first, rng, base, cap) for _ in range(count)])
    return out


# -- l5-limits ----------------------------------------------------------------------
@graded("l5-limits", points=2,
        hint="v = min(cap, base * 2**retry), with the base and cap you are given. No jitter waits exactly v "
             "(the cap for a retry number so large that 2.0**retry overflows); Full Jitter stays within "
             "[0, v], Equal within [v/2, v], Decorrelated within [base, min(cap, 3 * previous)].")
def check_limits(no_jitter, full_jitter, equal_jitter, decorrelated_jitter):
    for base, cap in SETTINGS:
        calls = [(n, base, cap) for n in NO_JITTER_RETRIES]
        for n, got in zip(NO_JITTER_RETRIES, draws(no_jitter, calls, 0, fresh=True)):
            what = f"no_jitter({n}, rng, {_g(base)}, {_g(cap)})" + (" (a huge retry number)" if n >= 1023 else "")
            expect_close(what, _number(what, got), _v(n, base, cap))
    for base, cap in SETTINGS:
        calls = [(i % 16, base, cap) for i in range(DRAWS)]
        for scheme, low, name in ((full_jitter, lambda v: 0.0, "full_jitter"),
                                  (equal_jitter, lambda v: v / 2, "equal_jitter")):
            for (n, _, _), value in zip(calls, draws(scheme, calls, 11)):
                what = f"{name}({n}, rng, {_g(base)}, {_g(cap)})"
                got = _number(what, value)
                v = _v(n, base, cap)
                if not (low(v) - 1e-12 <= got <= v + 1e-12):
                    raise CheckFailed(f"{what} returned {got:.4g}, outside [{low(v):.4g}, {v:.4g}] "
                                      f"(v = min(cap, base * 2**{n}) = {v:.4g})")
        for previous, value in decorrelated_chain(decorrelated_jitter, 11, base, cap):
            what = f"decorrelated_jitter({previous:.4g}, rng, {_g(base)}, {_g(cap)})"
            got = _number(what, value)
            high = min(cap, 3 * previous)
            if not (base - 1e-12 <= got <= high + 1e-12):
                raise CheckFailed(f"{what} returned {got:.4g}, outside [{_g(base)}, {high:.4g}] "
                                  f"(= [base, min(cap, 3 * previous)])")


# -- l5-distributions -----------------------------------------------------------------
def _ks(what, values, low, high, expected):
    from scipy import stats

    result = stats.kstest(np.asarray(values, dtype=float), _uniform_cdf(low, high))
    if result.pvalue < ALPHA:
        raise CheckFailed(f"{what}: {len(values)} delays do not follow {expected} (Kolmogorov-Smirnov D = "
                          f"{result.statistic:.3f}, p = {result.pvalue:.1e} < {ALPHA:g}); "
                          f"their mean is {np.mean(values):.4g} s, expected {(low + high) / 2:.4g} s")


def _uniform_cdf(low, high):
    def cdf(x):
        return np.clip((np.asarray(x, dtype=float) - low) / (high - low), 0.0, 1.0)
    return cdf


def _capped(what, values, low, high, cap):
    """``min(cap, U(low, high))`` with ``high > cap``: the share at the cap (a
    binomial test), and the rest uniform on [low, cap)."""
    from scipy import stats

    at_cap = [x for x in values if abs(x - cap) <= 1e-9 * cap]
    share = (high - cap) / (high - low)
    p = stats.binomtest(len(at_cap), len(values), share).pvalue
    if p < ALPHA:
        raise CheckFailed(f"{what}: {len(at_cap)} of {len(values)} delays were the cap {_g(cap)} s; about "
                          f"{share:.0%} should be (min(cap, U({_g(low)}, {_g(high)})) is the cap whenever the "
                          f"uniform draw is above it; binomial p = {p:.1e} < {ALPHA:g})")
    below = [x for x in values if abs(x - cap) > 1e-9 * cap]
    if below:
        _ks(f"{what}, those below the cap", below, low, cap, f"U({_g(low)}, {_g(cap)})")


#: (scheme, first argument, base, cap) of each distribution tested: the lesson's
#: settings and others, uncapped and capped.
DISTRIBUTIONS = [
    ("full_jitter", 3, 0.1, 5.0), ("full_jitter", 9, 0.1, 5.0), ("full_jitter", 2, 0.25, 30.0),
    ("full_jitter", 6, 0.05, 1.2),
    ("equal_jitter", 2, 0.1, 5.0), ("equal_jitter", 8, 0.1, 5.0), ("equal_jitter", 1, 0.25, 30.0),
    ("equal_jitter", 5, 0.05, 1.2),
    ("decorrelated_jitter", 0.3, 0.1, 5.0), ("decorrelated_jitter", 1.0, 0.1, 5.0),
    ("decorrelated_jitter", 2.0, 0.5, 30.0),
    ("decorrelated_jitter", 3.0, 0.1, 5.0), ("decorrelated_jitter", 1.0, 0.2, 2.0),
]


def _expected(name, first, base, cap):
    """(low, high) of the uniform draw, and whether the cap cuts it (decorrelated only)."""
    if name == "decorrelated_jitter":
        return base, 3 * first, 3 * first > cap
    v = _v(first, base, cap)
    return (0.0 if name == "full_jitter" else v / 2), v, False


def _reproducible(name, scheme, first, base, cap):
    what = f"{name}({_g(first)}, rng, {_g(base)}, {_g(cap)})"
    same, again, other = repeats(scheme, first, base, cap, [7, 7, 8])
    for answers in (same, again, other):
        for answer in answers:
            _number(what, answer)
    if same != again:
        i = next(i for i, (a, b) in enumerate(zip(same, again)) if a != b)
        raise CheckFailed(f"{what} with rng = random.Random(7), twice: draw {i + 1} was {same[i]:.6g} the first time "
                          f"and {again[i]:.6g} the second. Draw every random number from the rng you are given "
                          "(rng.uniform(a, b)), not from the random module or numpy, so that a seed repeats a run")
    if same == other:
        raise CheckFailed(f"{what} gave the same {len(same)} delays with rng = random.Random(7) and "
                          "random.Random(8): draw from the rng you are given, not from a generator of your own")


@graded("l5-distributions", points=3,
        hint="Draw one uniform number from the rng you are given (the same seed must give the same delays), "
             "over the right interval: Full Jitter U(0, v); Equal Jitter v/2 + U(0, v/2); Decorrelated "
             "min(cap, U(base, 3 * previous)), which is the cap whenever the draw is above it.")
def check_distributions(full_jitter, equal_jitter, decorrelated_jitter):
    schemes = {"full_jitter": full_jitter, "equal_jitter": equal_jitter, "decorrelated_jitter": decorrelated_jitter}
    for name, scheme in schemes.items():
        first, base, cap = next((f, b, c) for n, f, b, c in DISTRIBUTIONS if n == name)
        _reproducible(name, scheme, first, base, cap)
    for i, (name, first, base, cap) in enumerate(DISTRIBUTIONS):
        low, high, capped = _expected(name, first, base, cap)
        what = f"{name}({_g(first)}, rng, {_g(base)}, {_g(cap)})"
        values = [_number(what, v) for v in draws(schemes[name], [(first, base, cap)] * DRAWS,
                                                   f"l5-distributions/{i}")]
        if capped:
            _capped(what, values, low, high, cap)
        else:
            v_note = f" (v = {_g(high)})" if name != "decorrelated_jitter" and high == cap else ""
            _ks(what + v_note, values, low, high, f"U({_g(low)}, {_g(high)})")


# -- l5-what-to-retry -------------------------------------------------------------------
#: Errors worth retrying: they say "not now", not "never".
RETRY = {
    "timeout": "a timeout may pass",
    "connection": "a connection error may pass",
    429: "429 Too Many Requests asks to come back later",
    502: "502 Bad Gateway: the server behind the gateway may answer next time",
    503: "503 Service Unavailable may pass",
    504: "504 Gateway Timeout: a timeout, seen by a gateway",
}
#: Errors never retried, and why.
NO_RETRY = {
    400: "400 Bad Request: the request itself is wrong, it fails the same way every time",
    401: "401 Unauthorized: without new credentials it fails the same way every time",
    403: "403 Forbidden: it fails the same way every time",
    404: "404 Not Found: it fails the same way every time",
    422: "422 Unprocessable Content: the request itself is wrong, it fails the same way every time",
    500: "500 Internal Server Error: a bug in the server, which this same request usually hits again",
    "rejected": ("a local bulkhead or queue turned the call away to shed load: retrying at once adds the load "
                 "it is shedding; fail fast instead (or fall back, lesson 6)"),
}
KEY = "order-42"


def _call_text(error, attempts, max_attempts, options):
    extra = "".join(f", {k}={v!r}" for k, v in options.items())
    return f"should_retry({error!r}, {attempts}, {max_attempts}{extra})"


@measured
def retry_answers(should_retry, cases):
    """``should_retry(error, attempts, max_attempts, **options)`` for each case, as plain data."""
    out = []
    for error, attempts, max_attempts, options in cases:
        answer = _attempt(should_retry, error, attempts, max_attempts, **options)
        out.append(answer)
        if _raised(answer):
            break
    return out


def _retry_cases():
    """(error, attempts, max_attempts, options, expected, why) for every case checked:
    which errors first, then the attempts, then idempotency."""
    cases = [(error, 1, 3, {}, True, f"{why} and attempts remain") for error, why in RETRY.items()]
    cases += [(error, 1, 3, {}, False, why) for error, why in NO_RETRY.items()]
    for error, why in RETRY.items():
        for attempts, max_attempts, expected in [(2, 3, True), (3, 3, False), (1, 1, False), (4, 5, True),
                                                 (5, 5, False)]:
            reason = f"{why} and attempts remain" if expected else f"{max_attempts} attempts were made already"
            cases.append((error, attempts, max_attempts, {}, expected, reason))
    for error, why in RETRY.items():
        cases += [
            (error, 1, 3, {"idempotent": True}, True, f"an idempotent call, and {why}"),
            (error, 1, 3, {"idempotent": False}, False,
             "a call that is not idempotent, without an idempotency key, is never retried: the failed attempt "
             "may have done its work, and a retry would do it twice"),
            (error, 1, 3, {"idempotent": False, "idempotency_key": KEY}, True,
             f"the idempotency key lets the server do the work once however often it is sent, and {why}"),
            (error, 2, 3, {"idempotent": True, "idempotency_key": KEY}, True, f"{why} and attempts remain"),
            (error, 3, 3, {"idempotent": False, "idempotency_key": KEY}, False, "3 attempts were made already"),
        ]
    for error, why in NO_RETRY.items():
        cases.append((error, 1, 3, {"idempotent": False, "idempotency_key": KEY}, False,
                      f"{why}; a key makes a retry safe, not useful"))
    return cases


@graded("l5-what-to-retry", points=2,
        hint="Retry only errors that may go away (timeouts, connection errors, 429, 502, 503, 504), never 500, "
             "another 4xx or 'rejected'; only while fewer than max_attempts attempts have been made; and a call "
             "that is not idempotent only if it carries an idempotency key.")
def check_what_to_retry(should_retry):
    cases = _retry_cases()
    answers = retry_answers(should_retry, [(e, a, m, o) for e, a, m, o, _, _ in cases])
    for (error, attempts, max_attempts, options, expected, why), got in zip(cases, answers):
        what = _call_text(error, attempts, max_attempts, options)
        if _raised(got):
            raise CheckFailed(f"{what} raised {got['raised']}")
        if _truth(got) is None:
            raise CheckFailed(f"{what} returned {_shown(got)}, expected {expected} (True or False)")
        if _truth(got) != expected:
            raise CheckFailed(f"{what} returned {_shown(got)}, expected {expected}: {why}")


# -- l5-budget --------------------------------------------------------------------------
#: The small budget case, worked out by hand: ``RetryBudget(**BUDGET_SETTINGS)``
#: (a floor of 0.2 x 10 = 2 retries per window), then each phase's steps, with
#: the answers try_retry must give and why.
BUDGET_SETTINGS = {"ratio": 0.5, "window": 10.0, "min_per_second": 0.2}
BUDGET_SCRIPT = [
    ("4 requests at t = 0, 0.1, 0.2, 0.3, then try_retry(1) six times",
     [("request", 0.0), ("request", 0.1), ("request", 0.2), ("request", 0.3)] + [("retry", 1.0)] * 6,
     [True] * 4 + [False] * 2,
     "0.5 x 4 requests + 0.2 x 10 = 4 retries: the 4th is allowed (3 + 1 <= 4), the 5th is not"),
    ("3 more requests at t = 2, then try_retry(2) twice",
     [("request", 2.0)] * 3 + [("retry", 2.0)] * 2,
     [True, False],
     "0.5 x 7 + 2 = 5.5: 4 retries were allowed (the 2 refused do not count), so a 5th is allowed "
     "(4 + 1 <= 5.5) and a 6th is not (5 + 1 > 5.5)"),
    ("try_retry(30) three times (every request and retry so far is more than 10 s old)",
     [("retry", 30.0)] * 3,
     [True, True, False],
     "nothing in the last 10 s: only the floor, 0.2 x 10 = 2 retries"),
    ("2 requests at t = 36, then try_retry(36) twice",
     [("request", 36.0)] * 2 + [("retry", 36.0)] * 2,
     [True, False],
     "0.5 x 2 + 2 = 3, and the 2 retries of t = 30 still count: one more"),
    ("try_retry(42) three times (the retries of t = 30 are now 12 s old)",
     [("retry", 42.0)] * 3,
     [True, True, False],
     "0.5 x 2 + 2 = 3 (the requests of t = 36 count), 1 retry in the last 10 s (t = 36): two more"),
]


def _new_budget(RetryBudget, settings):
    """``(the budget, how it was made)``, or ``({"raised": ..., "call": ...}, None)``."""
    call = "RetryBudget(" + ", ".join(f"{k}={_g(v)}" for k, v in settings.items()) + ")"
    try:
        return RetryBudget(**settings), call
    except NotImplementedError:
        raise
    except Exception as error:
        return {"raised": f"{type(error).__name__}: {error}", "call": call}, None


@measured
def budget_answers(RetryBudget, settings, phases):
    """Run each phase's steps on one ``RetryBudget(**settings)``: for each phase the
    list of try_retry answers; a call that raised ends it all as ``{"raised": ..., "call": ...}``."""
    budget, call = _new_budget(RetryBudget, settings)
    if call is None:
        return [budget]
    out = []
    for steps in phases:
        answers = []
        for step, now in steps:
            method = "record_request" if step == "request" else "try_retry"
            got = _attempt(getattr(budget, method), now)
            if _raised(got):
                return out + [{**got, "call": f"{method}({_g(now)})"}]
            if step == "retry":
                answers.append(got)
        out.append(answers)
    return out


def _budget_script(RetryBudget):
    answers = budget_answers(RetryBudget, BUDGET_SETTINGS, [steps for _, steps, _, _ in BUDGET_SCRIPT])
    lines = ["RetryBudget(ratio=0.5, window=10, min_per_second=0.2), step by step:"]
    for i, ((what, _, expected, why), got) in enumerate(zip(BUDGET_SCRIPT, answers)):
        if _raised(got):
            lines.append(f"  {i + 1}. {what}: {got['call']} raised {got['raised']}")
            raise CheckFailed("\n".join(lines))
        if [_truth(x) for x in got] != expected:
            shown = "[" + ", ".join(_shown(x) for x in got) + "]"
            lines.append(f"  {i + 1}. {what}: try_retry returned {shown}, expected {expected}")
            lines.append(f"     ({why})")
            raise CheckFailed("\n".join(lines))
        lines.append(f"  {i + 1}. {what}: {expected}, right")


def _windows(requests, retries, window=10.0, seconds=100.0):
    edges = np.arange(0.0, seconds + window, window)
    return np.histogram(requests, edges)[0], np.histogram(retries, edges)[0]


class _Raised(Exception):
    def __init__(self, call, error):
        super().__init__(call)
        self.call, self.error = call, error


class _Naming:
    """A student's budget whose calls, when one raises, say which call it was."""

    def __init__(self, budget):
        self.budget = budget

    def _call(self, method, now):
        try:
            return getattr(self.budget, method)(now)
        except NotImplementedError:
            raise
        except Exception as error:
            raise _Raised(f"{method}({now:g})", f"{type(error).__name__}: {error}") from error

    def record_request(self, now):
        return self._call("record_request", now)

    def try_retry(self, now):
        return self._call("try_retry", now)


@measured
def budget_times(RetryBudget, **settings):
    """:func:`~resilience_lab.lessons.retries.budget_trace` of ``RetryBudget(**settings)``:
    (request times, times of the retries it allowed), or ``{"raised": ..., "call": ...}``."""
    budget, call = _new_budget(RetryBudget, settings)
    if call is None:
        return budget
    try:
        requests, retries = lesson.budget_trace(lambda: _Naming(budget))
    except _Raised as error:
        return {"raised": error.error, "call": f"{call}.{error.call}"}
    return [float(t) for t in requests], [float(t) for t in retries]


def _trace(RetryBudget, **settings):
    got = budget_times(RetryBudget, **settings)
    if _raised(got):
        raise CheckFailed(f"{got['call']} raised {got['raised']} (100 requests a second, every attempt failing)")
    return got


@graded("l5-budget", points=3,
        hint="Keep the times of the requests and of the retries you allowed over the last `window` seconds; "
             "allow a retry while retries + 1 <= ratio * requests + min_per_second * window, count it only when "
             "you allow it, and forget what is more than `window` seconds old.")
def check_budget(RetryBudget):
    _budget_script(RetryBudget)
    # Every attempt fails for 100 s; 100 requests a second each want 2 retries.
    requests, retries = _trace(RetryBudget, ratio=0.1, window=10.0, min_per_second=0.0)
    per_window_requests, per_window_retries = _windows(requests, retries)
    worst = int(np.argmax(per_window_retries / per_window_requests))
    if per_window_retries[worst] > 0.11 * per_window_requests[worst]:
        raise CheckFailed(f"with ratio 0.1 the budget allowed {per_window_retries[worst]} retries for "
                          f"{per_window_requests[worst]} requests in the 10 s from t = {10 * worst} s")
    if len(retries) < 0.09 * len(requests):
        raise CheckFailed(f"with ratio 0.1 the budget allowed only {len(retries)} retries for {len(requests)} "
                          f"requests; it should allow about {0.1 * len(requests):.0f}")
    _, retries = _trace(RetryBudget, ratio=0.0, window=10.0, min_per_second=2.0)
    _, per_window_retries = _windows(requests, retries)
    if per_window_retries.max() > 22 or len(retries) < 180:
        raise CheckFailed(f"with ratio 0 and min_per_second 2 the budget should allow about 20 retries per "
                          f"10 s; it allowed {per_window_retries.tolist()}")


# -- l5-herd ----------------------------------------------------------------------------
#: Jitter must cut the peak load on the database after it recovers by at least this factor.
HERD_FACTOR = 4.0


class _SchemeRaised(Exception):
    pass


def _naming(scheme, name):
    """``scheme``, except that an exception it raises names the call."""
    def call(first, rng, base, cap):
        try:
            return scheme(first, rng, base, cap)
        except NotImplementedError:
            raise
        except Exception as error:
            raise _SchemeRaised(f"{name}({first!r}, rng, {_g(base)}, {_g(cap)}) raised "
                                f"{type(error).__name__}: {error}") from error
    return call


@functools.lru_cache(maxsize=4)
def _herd(scheme, name):
    return lesson.herd_world(lesson.FunctionBackoff(_naming(scheme, name), 0.1, 5.0)).run(4.0)


@measured
def herd_peaks(no_jitter, full_jitter):
    """The peak attempts per second on the database after it recovers, without
    jitter and with full jitter; ``{"raised": ...}`` if a schedule raised."""
    try:
        return [lesson.peak_after(_herd(no_jitter, "no_jitter")), lesson.peak_after(_herd(full_jitter, "full_jitter"))]
    except _SchemeRaised as error:
        return {"raised": str(error)}


@graded("l5-herd", points=2,
        hint="Without jitter every request that failed together retries together. Full Jitter spreads "
             "each retry over [0, v]; check your full_jitter draws from the rng it is given.")
def check_herd(no_jitter, full_jitter):
    got = herd_peaks(no_jitter, full_jitter)
    if _raised(got):
        raise CheckFailed(f"in the herd simulation {got['raised']}")
    lockstep, jittered = got
    if not lockstep >= 5000:
        raise CheckFailed(f"without jitter the peak after recovery was only {lockstep:,.0f} attempts/s; "
                          "no_jitter should make the 500 failed requests retry together")
    if not jittered * HERD_FACTOR <= lockstep:
        raise CheckFailed(f"with full jitter the peak after recovery was {jittered:,.0f} attempts/s against "
                          f"{lockstep:,.0f} without: jitter must cut it at least {HERD_FACTOR:g}x")
