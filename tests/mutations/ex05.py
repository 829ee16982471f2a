"""Exercise 5, backoff, jitter and a retry budget: answers written differently, and mistakes.

The schedules live in one cell (cell-04), so a variant of one schedule is the
solution's four with that one swapped (:func:`schedules`).
"""

EXERCISE = "05-retries"

NO_JITTER = ("def no_jitter(retry, rng, base, cap):\n"
             "    if retry >= 1024:\n        return cap\n"
             "    return min(cap, base * 2.0**retry)\n")
FULL = ("def full_jitter(retry, rng, base, cap):\n"
        "    return rng.uniform(0, no_jitter(retry, rng, base, cap))\n")
EQUAL = ("def equal_jitter(retry, rng, base, cap):\n"
         "    half = no_jitter(retry, rng, base, cap) / 2\n"
         "    return half + rng.uniform(0, half)\n")
DECORRELATED = ("def decorrelated_jitter(previous, rng, base, cap):\n"
                "    return min(cap, rng.uniform(base, 3 * previous))\n")


def schedules(no_jitter=NO_JITTER, full=FULL, equal=EQUAL, decorrelated=DECORRELATED, head=""):
    """cell-04 with some of the solution's schedules replaced."""
    return {"cell-04": head + "\n\n".join([no_jitter, full, equal, decorrelated])}


def should_retry(body):
    return {"cell-10": "def should_retry(error, attempts, max_attempts, *, idempotent=True, idempotency_key=None):\n"
                       + body}


SOLUTION_BUDGET = """class RetryBudget:
    def __init__(self, ratio, window, min_per_second):
        self.ratio = ratio
        self.window = window
        self.min_per_second = min_per_second
        self.requests = deque()
        self.retries = deque()

    def record_request(self, now):
        self.requests.append(now)

    def try_retry(self, now):
{try_retry}
"""
EXPIRE = """        for times in (self.requests, self.retries):
            while times and times[0] <= now - self.window:
                times.popleft()
"""


def budget(try_retry):
    return {"cell-13": SOLUTION_BUDGET.format(try_retry=try_retry.rstrip("\n"))}


CORRECT = {
    # ldexp guarded by try/except; rng.random() scaled by hand; a table of decisions; a budget in two lists.
    "ldexp-random-two-lists": {
        "cell-04": """import math

def no_jitter(retry, rng, base, cap):
    try:
        return min(cap, math.ldexp(base, retry))
    except OverflowError:
        return cap

def full_jitter(retry, rng, base, cap):
    return rng.random() * no_jitter(retry, rng, base, cap)

def equal_jitter(retry, rng, base, cap):
    v = no_jitter(retry, rng, base, cap)
    return v / 2 + rng.random() * (v / 2)

def decorrelated_jitter(previous, rng, base, cap):
    delay = base + rng.random() * (3 * previous - base)
    return cap if delay > cap else delay
""",
        "cell-10": """RETRYABLE = {"timeout": True, "connection": True, 429: True, 502: True, 503: True, 504: True}

def should_retry(error, attempts, max_attempts, *, idempotent=True, idempotency_key=None):
    if attempts >= max_attempts:
        return False
    if not RETRYABLE.get(error, False):
        return False
    if idempotent:
        return True
    return idempotency_key is not None
""",
        "cell-13": """class RetryBudget:
    def __init__(self, ratio, window, min_per_second):
        self.ratio, self.window, self.min_per_second = ratio, window, min_per_second
        self.request_times = []
        self.retry_times = []

    def _forget(self, now):
        oldest = now - self.window
        while self.request_times and self.request_times[0] <= oldest:
            self.request_times.pop(0)
        while self.retry_times and self.retry_times[0] <= oldest:
            self.retry_times.pop(0)

    def record_request(self, now):
        self._forget(now)
        self.request_times.append(now)

    def try_retry(self, now):
        self._forget(now)
        allowance = self.ratio * len(self.request_times) + self.min_per_second * self.window
        if len(self.retry_times) + 1 > allowance:
            return False
        self.retry_times.append(now)
        return True
""",
    },
    # The exponent capped instead of the result guarded; uniform over the interval; per-bucket counters.
    "capped-exponent-buckets": {
        "cell-04": """def no_jitter(retry, rng, base, cap):
    return min(cap, base * 2.0 ** min(retry, 1000))

def full_jitter(retry, rng, base, cap):
    v = no_jitter(retry, rng, base, cap)
    return rng.uniform(0.0, v)

def equal_jitter(retry, rng, base, cap):
    v = no_jitter(retry, rng, base, cap)
    return rng.uniform(v / 2, v)

def decorrelated_jitter(previous, rng, base, cap):
    return min(rng.uniform(base, previous * 3.0), cap)
""",
        "cell-10": """TRANSIENT = ("timeout", "connection")
RETRYABLE_STATUS = range(502, 505)

def should_retry(error, attempts, max_attempts, *, idempotent=True, idempotency_key=None):
    transient = error in TRANSIENT or error == 429 or (isinstance(error, int) and error in RETRYABLE_STATUS)
    safe = idempotent or idempotency_key is not None
    return bool(transient and safe and attempts < max_attempts)
""",
        "cell-13": """import math

class RetryBudget:
    BUCKETS = 10

    def __init__(self, ratio, window, min_per_second):
        self.ratio = ratio
        self.window = window
        self.min_per_second = min_per_second
        self.width = window / self.BUCKETS
        self.counts = {}  # bucket number -> [requests, retries]

    def _bucket(self, now):
        number = math.floor(now / self.width)
        for old in [b for b in self.counts if b <= number - self.BUCKETS]:
            del self.counts[old]
        return self.counts.setdefault(number, [0, 0])

    def record_request(self, now):
        self._bucket(now)[0] += 1

    def try_retry(self, now):
        bucket = self._bucket(now)
        requests = sum(c[0] for c in self.counts.values())
        retries = sum(c[1] for c in self.counts.values())
        if retries + 1 <= self.ratio * requests + self.min_per_second * self.window:
            bucket[1] += 1
            return True
        return False
""",
    },
    # try/except around the plain formula with an int power; the cap applied by hand; a single deque of events.
    "try-except-one-deque": {
        "cell-04": """def no_jitter(retry, rng, base, cap):
    try:
        v = base * 2 ** retry
    except OverflowError:
        return cap
    return cap if v > cap else v

def full_jitter(retry, rng, base, cap):
    return rng.uniform(0, no_jitter(retry, None, base, cap))

def equal_jitter(retry, rng, base, cap):
    v = no_jitter(retry, None, base, cap)
    return v - rng.uniform(0, v / 2)

def decorrelated_jitter(previous, rng, base, cap):
    d = rng.uniform(base, previous * 3)
    if d > cap:
        d = cap
    return d
""",
        "cell-10": """def should_retry(error, attempts, max_attempts, **call):
    if attempts >= max_attempts:
        return False
    if error in ("rejected", 500) or (isinstance(error, int) and 400 <= error < 500 and error != 429):
        return False
    if not call.get("idempotent", True) and call.get("idempotency_key") is None:
        return False
    return error in ("timeout", "connection", 429, 502, 503, 504)
""",
        "cell-13": """class RetryBudget:
    def __init__(self, ratio, window, min_per_second):
        self.ratio = ratio
        self.window = window
        self.min_per_second = min_per_second
        self.events = deque()  # (time, is_retry)
        self.requests = self.retries = 0

    def _expire(self, now):
        while self.events and now - self.events[0][0] >= self.window:
            _, is_retry = self.events.popleft()
            if is_retry:
                self.retries -= 1
            else:
                self.requests -= 1

    def record_request(self, now):
        self._expire(now)
        self.events.append((now, False))
        self.requests += 1

    def try_retry(self, now):
        self._expire(now)
        if self.retries + 1 > self.ratio * self.requests + self.min_per_second * self.window:
            return False
        self.events.append((now, True))
        self.retries += 1
        return True
""",
    },
    # numpy: exp2 overflows to inf (no exception), numpy scalars returned; a numpy budget.
    "numpy": {
        "cell-02": "from collections import deque\n\nimport numpy as np\n\n"
                   "from resilience_lab.checks import lesson05 as checks",
        "cell-04": """def no_jitter(retry, rng, base, cap):
    with np.errstate(over="ignore"):
        return np.minimum(cap, base * np.exp2(retry))

def full_jitter(retry, rng, base, cap):
    return no_jitter(retry, rng, base, cap) * rng.random()

def equal_jitter(retry, rng, base, cap):
    half = no_jitter(retry, rng, base, cap) / 2
    return half * (1 + rng.random())

def decorrelated_jitter(previous, rng, base, cap):
    return np.clip(rng.uniform(base, 3 * previous), base, cap)
""",
        "cell-13": """class RetryBudget:
    def __init__(self, ratio, window, min_per_second):
        self.ratio = ratio
        self.window = window
        self.min_per_second = min_per_second
        self.requests = np.empty(0)
        self.retries = np.empty(0)

    def record_request(self, now):
        self.requests = np.append(self.requests[self.requests > now - self.window], now)

    def try_retry(self, now):
        self.requests = self.requests[self.requests > now - self.window]
        self.retries = self.retries[self.retries > now - self.window]
        if self.retries.size + 1 <= self.ratio * self.requests.size + self.min_per_second * self.window:
            self.retries = np.append(self.retries, now)
            return True
        return False
""",
    },
}

WRONG = {
    # -- schedules --------------------------------------------------------------
    "global-random-full": (schedules(head="import random\n\n", full=(
        "def full_jitter(retry, rng, base, cap):\n"
        "    return random.uniform(0, no_jitter(retry, rng, base, cap))\n")), "l5-distributions"),
    "global-random-decorrelated": (schedules(head="import random\n\n", decorrelated=(
        "def decorrelated_jitter(previous, rng, base, cap):\n"
        "    return min(cap, random.uniform(base, 3 * previous))\n")), "l5-distributions"),
    "numpy-global-random-equal": (schedules(head="import numpy as np\n\n", equal=(
        "def equal_jitter(retry, rng, base, cap):\n"
        "    v = no_jitter(retry, rng, base, cap)\n"
        "    return v / 2 + np.random.uniform(0, v / 2)\n")), "l5-distributions"),
    "hard-coded-base-and-cap": (schedules(no_jitter=(
        "def no_jitter(retry, rng, base=0.1, cap=5.0):\n"
        "    if retry >= 1024:\n        return 5.0\n"
        "    return min(5.0, 0.1 * 2.0**retry)\n")), "l5-limits"),
    "hard-coded-in-full-jitter": (schedules(full=(
        "def full_jitter(retry, rng, base, cap):\n"
        "    return rng.uniform(0, min(5.0, 0.1 * 2.0 ** min(retry, 100)))\n")), "l5-limits"),
    "hard-coded-cap-in-equal-jitter": (schedules(equal=(
        "def equal_jitter(retry, rng, base, cap):\n"
        "    half = min(5, base * 2.0 ** min(retry, 100)) / 2\n"
        "    return half + rng.uniform(0, half)\n")), "l5-limits"),
    "hard-coded-base-in-decorrelated": (schedules(decorrelated=(
        "def decorrelated_jitter(previous, rng, base, cap):\n"
        "    return min(cap, rng.uniform(0.1, 3 * previous))\n")), "l5-limits"),
    "no-overflow-guard": (schedules(no_jitter=(
        "def no_jitter(retry, rng, base, cap):\n"
        "    return min(cap, base * 2.0**retry)\n")), "l5-limits"),
    "overflow-guard-off-by-one": (schedules(no_jitter=(
        "def no_jitter(retry, rng, base, cap):\n"
        "    if retry > 1024:\n        return cap\n"
        "    return min(cap, base * 2.0**retry)\n")), "l5-limits"),
    "equal-jitter-v-half-plus-u-v": (schedules(equal=(
        "def equal_jitter(retry, rng, base, cap):\n"
        "    v = no_jitter(retry, rng, base, cap)\n"
        "    return v / 2 + rng.uniform(0, v)\n")), "l5-limits"),
    "full-jitter-uncapped": (schedules(full=(
        "def full_jitter(retry, rng, base, cap):\n"
        "    return rng.uniform(0, base * 2 ** retry)\n")), "l5-limits"),
    "decorrelated-uncapped": (schedules(decorrelated=(
        "def decorrelated_jitter(previous, rng, base, cap):\n"
        "    return rng.uniform(base, previous * 3)\n")), "l5-limits"),
    "decorrelated-cap-inside-uniform": (schedules(decorrelated=(
        "def decorrelated_jitter(previous, rng, base, cap):\n"
        "    return rng.uniform(base, min(cap, 3 * previous))\n")), "l5-distributions"),
    "decorrelated-from-previous": (schedules(decorrelated=(
        "def decorrelated_jitter(previous, rng, base, cap):\n"
        "    return min(cap, rng.uniform(previous, 3 * previous))\n")), "l5-distributions"),
    "equal-jitter-squared": (schedules(equal=(
        "def equal_jitter(retry, rng, base, cap):\n"
        "    v = no_jitter(retry, rng, base, cap)\n"
        "    return v / 2 + v / 2 * rng.random() ** 2\n")), "l5-distributions"),
    "source-lesson-jitter": (schedules(full=(
        "def full_jitter(retry, rng, base, cap):\n"
        "    v = no_jitter(retry, rng, base, cap)\n"
        "    return v + rng.uniform(0, v / 2)\n")), "l5-limits"),
    "frozen-seed-full-jitter": (schedules(head="import random\n\n", full=(
        "def full_jitter(retry, rng, base, cap):\n"
        "    return random.Random(42).uniform(0, no_jitter(retry, rng, base, cap))\n")), "l5-herd"),
    # -- what to retry ------------------------------------------------------------
    "retries-4xx": (should_retry(
        "    return attempts < max_attempts and error not in (404, 'rejected')\n"), "l5-what-to-retry"),
    "retries-every-5xx": (should_retry(
        "    transient = error in ('timeout', 'connection', 429) or (isinstance(error, int) and error >= 500)\n"
        "    return attempts < max_attempts and transient and (idempotent or idempotency_key is not None)\n"),
        "l5-what-to-retry"),
    "only-503-and-429": (should_retry(
        "    transient = error in {'timeout', 'connection', 503, 429}\n"
        "    return attempts < max_attempts and transient and (idempotent or idempotency_key is not None)\n"),
        "l5-what-to-retry"),
    "retries-rejected": (should_retry(
        "    transient = error in {'timeout', 'connection', 'rejected', 429, 502, 503, 504}\n"
        "    return attempts < max_attempts and transient and (idempotent or idempotency_key is not None)\n"),
        "l5-what-to-retry"),
    "retries-at-max-attempts": (should_retry(
        "    transient = error in {'timeout', 'connection', 429, 502, 503, 504}\n"
        "    return attempts <= max_attempts and transient and (idempotent or idempotency_key is not None)\n"),
        "l5-what-to-retry"),
    "ignores-idempotency": (should_retry(
        "    return attempts < max_attempts and error in {'timeout', 'connection', 429, 502, 503, 504}\n"),
        "l5-what-to-retry"),
    "ignores-idempotency-key": (should_retry(
        "    return attempts < max_attempts and idempotent and error in {'timeout', 'connection', 429, 502, 503, 504}\n"),
        "l5-what-to-retry"),
    "key-required-always": (should_retry(
        "    transient = error in {'timeout', 'connection', 429, 502, 503, 504}\n"
        "    return attempts < max_attempts and transient and idempotency_key is not None\n"), "l5-what-to-retry"),
    "key-retries-anything": (should_retry(
        "    if idempotency_key is not None:\n        return attempts < max_attempts\n"
        "    transient = error in {'timeout', 'connection', 429, 502, 503, 504}\n"
        "    return attempts < max_attempts and transient and idempotent\n"), "l5-what-to-retry"),
    "old-three-arguments": ({"cell-10": "def should_retry(error, attempts, max_attempts):\n"
                                        "    return attempts < max_attempts and error in {'timeout', 'connection', 429, 502, 503, 504}\n"},
                            "l5-what-to-retry"),
    # -- the budget -------------------------------------------------------------------
    "budget-never-expires-requests": (budget("""        while self.retries and self.retries[0] <= now - self.window:
            self.retries.popleft()
        if len(self.retries) + 1 <= self.ratio * len(self.requests) + self.min_per_second * self.window:
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-never-expires-anything": (budget("""        if len(self.retries) + 1 <= self.ratio * len(self.requests) + self.min_per_second * self.window:
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-does-not-count-retries": (budget(EXPIRE + """        return len(self.retries) + 1 <= self.ratio * len(self.requests) + self.min_per_second * self.window
"""), "l5-budget"),
    "budget-ignores-floor": (budget(EXPIRE + """        if len(self.retries) + 1 <= self.ratio * len(self.requests):
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-floor-or-ratio": (budget(EXPIRE + """        if len(self.retries) + 1 <= max(self.ratio * len(self.requests), self.min_per_second * self.window):
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-floor-per-second-only": (budget(EXPIRE + """        if len(self.retries) + 1 <= self.ratio * len(self.requests) + self.min_per_second:
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-counts-refused": (budget(EXPIRE + """        self.retries.append(now)
        return len(self.retries) <= self.ratio * len(self.requests) + self.min_per_second * self.window
"""), "l5-budget"),
    "budget-off-by-one": (budget(EXPIRE + """        if len(self.retries) + 1 < self.ratio * len(self.requests) + self.min_per_second * self.window:
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-below-allowance": (budget(EXPIRE + """        if len(self.retries) < self.ratio * len(self.requests) + self.min_per_second * self.window:
            self.retries.append(now)
            return True
        return False
"""), "l5-budget"),
    "budget-retries-count-as-requests": (budget(EXPIRE + """        if len(self.retries) + 1 <= self.ratio * len(self.requests) + self.min_per_second * self.window:
            self.retries.append(now)
            self.requests.append(now)
            return True
        return False
"""), "l5-budget"),
}
