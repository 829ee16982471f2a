"""Exercise 4, a bulkhead: answers written differently, and mistakes."""

EXERCISE = "04-bulkheads"

_COUNTER = """class Bulkhead:
    def __init__(self, max_concurrent):
        self.max_concurrent = max_concurrent
        self.in_use = 0
        self.rejected = 0

    def try_acquire(self, now):
{acquire}

    def release(self, now):
{release}

    def reject(self, now):
{reject}
"""


def _bulkhead(acquire="        if self.in_use < self.max_concurrent:\n"
                      "            self.in_use += 1\n"
                      "            return True\n"
                      "        return False",
              release="        self.in_use -= 1",
              reject="        self.rejected += 1"):
    """The solution's permit counter with one method body replaced."""
    return _COUNTER.format(acquire=acquire, release=release, reject=reject)


def _path(body):
    return "def call_with_bulkhead(bulkhead, call, clock):\n" + body


def _size(body, signature="rate, latency, headroom=2"):
    return f"def partition_size({signature}):\n    return {body}"


CORRECT = {
    "bounded-semaphore": {
        "cell-04": "import threading\n\n"
                   "class Bulkhead:\n"
                   "    def __init__(self, max_concurrent):\n"
                   "        self.max_concurrent = max_concurrent\n"
                   "        self._permits = threading.BoundedSemaphore(max_concurrent)\n"
                   "        self.in_use = 0\n"
                   "        self.rejected = 0\n\n"
                   "    def try_acquire(self, now):\n"
                   "        if not self._permits.acquire(blocking=False):\n"
                   "            return False\n"
                   "        self.in_use += 1\n"
                   "        return True\n\n"
                   "    def release(self, now):\n"
                   "        self._permits.release()\n"
                   "        self.in_use -= 1\n\n"
                   "    def reject(self, now):\n"
                   "        self.rejected += 1",
    },
    "lock-and-free-count": {
        # A Lock around the counter, in_use a property over the free permits,
        # a context manager for the permit and numpy's ceiling.
        "cell-02": "import math\nimport numpy as np\n\n"
                   "from resilience_lab.checks import lesson04 as checks\n"
                   "from resilience_lab.outcomes import Outcome",
        "cell-04": "import threading\n\n"
                   "class Bulkhead:\n"
                   "    def __init__(self, max_concurrent):\n"
                   "        self.max_concurrent = max_concurrent\n"
                   "        self.free = max_concurrent\n"
                   "        self.rejected = 0\n"
                   "        self._lock = threading.Lock()\n\n"
                   "    @property\n"
                   "    def in_use(self):\n"
                   "        return self.max_concurrent - self.free\n\n"
                   "    def try_acquire(self, now):\n"
                   "        with self._lock:\n"
                   "            if self.free == 0:\n"
                   "                return False\n"
                   "            self.free -= 1\n"
                   "            return True\n\n"
                   "    def release(self, now):\n"
                   "        with self._lock:\n"
                   "            if self.free == self.max_concurrent:\n"
                   "                raise ValueError('release without a permit')\n"
                   "            self.free += 1\n\n"
                   "    def reject(self, now):\n"
                   "        with self._lock:\n"
                   "            self.rejected += 1",
        "cell-07": "from contextlib import contextmanager\n\n"
                   "@contextmanager\n"
                   "def permit(bulkhead, clock):\n"
                   "    try:\n"
                   "        yield\n"
                   "    finally:\n"
                   "        bulkhead.release(clock())\n\n"
                   + _path("    if not bulkhead.try_acquire(clock()):\n"
                           "        bulkhead.reject(clock())\n"
                           "        return Outcome.REJECTED\n"
                           "    with permit(bulkhead, clock):\n"
                           "        outcome = yield from call()\n"
                           "    return outcome"),
        "cell-11": _size("np.ceil(np.float64(rate) * latency * headroom)"),
    },
    "rlock-and-token-set": {
        # Permits as tokens in a set, an RLock, BaseException caught and re-raised,
        # and sizing in exact fractions giving numpy's int64.
        "cell-02": "import math\nimport numpy as np\nfrom fractions import Fraction\n\n"
                   "from resilience_lab.checks import lesson04 as checks\n"
                   "from resilience_lab.outcomes import Outcome",
        "cell-04": "import itertools\nimport threading\n\n"
                   "class Bulkhead:\n"
                   "    def __init__(self, max_concurrent):\n"
                   "        self.max_concurrent = max_concurrent\n"
                   "        self.held = set()\n"
                   "        self.tickets = itertools.count()\n"
                   "        self.rejected = 0\n"
                   "        self.guard = threading.RLock()\n\n"
                   "    in_use = property(lambda self: len(self.held))\n\n"
                   "    def try_acquire(self, now):\n"
                   "        with self.guard:\n"
                   "            ok = len(self.held) < self.max_concurrent\n"
                   "            if ok:\n"
                   "                self.held.add(next(self.tickets))\n"
                   "            return ok\n\n"
                   "    def release(self, now):\n"
                   "        with self.guard:\n"
                   "            self.held.pop()\n\n"
                   "    def reject(self, now):\n"
                   "        with self.guard:\n"
                   "            self.rejected = self.rejected + 1",
        "cell-07": _path("    acquired = bulkhead.try_acquire(clock())\n"
                         "    if acquired is False:\n"
                         "        bulkhead.reject(clock())\n"
                         "        return Outcome.REJECTED\n"
                         "    try:\n"
                         "        outcome = yield from call()\n"
                         "    except BaseException:\n"
                         "        bulkhead.release(clock())\n"
                         "        raise\n"
                         "    else:\n"
                         "        bulkhead.release(clock())\n"
                         "        return outcome"),
        "cell-11": "def partition_size(rate, latency, headroom=2):\n"
                   "    exact = Fraction(str(rate)) * Fraction(str(latency)) * Fraction(str(headroom))\n"
                   "    return np.int64(math.ceil(exact))",
    },
    "floor-division-ceiling": {
        # The ceiling by floor division gives a float such as 15.0; at least one permit;
        # a float default headroom; a floor on release.
        "cell-04": _bulkhead(release="        self.in_use = max(0, self.in_use - 1)"),
        "cell-11": "def partition_size(rate, latency, headroom=2.0):\n"
                   "    return max(1, -(-(rate * latency * headroom) // 1))",
    },
    "tolerant-ceiling": {
        "cell-04": _bulkhead(acquire="        if self.in_use >= self.max_concurrent:\n"
                                     "            return False\n"
                                     "        self.in_use = self.in_use + 1\n"
                                     "        return True"),
        "cell-07": _path("    now = clock()\n"
                         "    if bulkhead.try_acquire(now):\n"
                         "        try:\n"
                         "            result = yield from call()\n"
                         "        finally:\n"
                         "            bulkhead.release(clock())\n"
                         "        return result\n"
                         "    bulkhead.reject(now)\n"
                         "    return Outcome.REJECTED"),
        "cell-11": "def partition_size(rate, latency, headroom=2):\n"
                   "    busy = rate * latency\n"
                   "    return max(1, math.ceil(busy * headroom - 1e-9))",
    },
}

WRONG = {
    # -- the permit counter ---------------------------------------------------------
    "acquire-off-by-one-low": ({"cell-04": _bulkhead(acquire="        if self.in_use < self.max_concurrent - 1:\n"
                                                             "            self.in_use += 1\n"
                                                             "            return True\n"
                                                             "        return False")}, "l4-permits"),
    "acquire-off-by-one-high": ({"cell-04": _bulkhead(acquire="        if self.in_use <= self.max_concurrent:\n"
                                                              "            self.in_use += 1\n"
                                                              "            return True\n"
                                                              "        return False")}, "l4-permits"),
    "acquire-counts-even-when-full": ({"cell-04": _bulkhead(
        acquire="        self.in_use += 1\n        return self.in_use <= self.max_concurrent")}, "l4-permits"),
    "reject-takes-a-permit": ({"cell-04": _bulkhead(reject="        self.rejected += 1\n        self.in_use += 1")},
                              "l4-permits"),
    "acquire-counts-rejections-too": ({"cell-04": _bulkhead(acquire="        if self.in_use < self.max_concurrent:\n"
                                                                    "            self.in_use += 1\n"
                                                                    "            return True\n"
                                                                    "        self.rejected += 1\n"
                                                                    "        return False")}, "l4-permits"),
    "release-empties-the-bulkhead": ({"cell-04": _bulkhead(release="        self.in_use = 0")}, "l4-permits"),
    "permits-shared-by-every-bulkhead": ({"cell-04": "class Bulkhead:\n"
                                                     "    permits = []\n\n"
                                                     "    def __init__(self, max_concurrent):\n"
                                                     "        self.max_concurrent = max_concurrent\n"
                                                     "        self.rejected = 0\n\n"
                                                     "    @property\n"
                                                     "    def in_use(self):\n"
                                                     "        return len(self.permits)\n\n"
                                                     "    def try_acquire(self, now):\n"
                                                     "        if len(self.permits) < self.max_concurrent:\n"
                                                     "            self.permits.append(now)\n"
                                                     "            return True\n"
                                                     "        return False\n\n"
                                                     "    def release(self, now):\n"
                                                     "        self.permits.pop()\n\n"
                                                     "    def reject(self, now):\n"
                                                     "        self.rejected += 1"}, "l4-permits"),
    "one-count-for-all-bulkheads": ({"cell-04": "class Bulkhead:\n"
                                                "    in_use = 0\n\n"
                                                "    def __init__(self, max_concurrent):\n"
                                                "        self.max_concurrent = max_concurrent\n"
                                                "        self.rejected = 0\n\n"
                                                "    def try_acquire(self, now):\n"
                                                "        if Bulkhead.in_use < self.max_concurrent:\n"
                                                "            Bulkhead.in_use += 1\n"
                                                "            return True\n"
                                                "        return False\n\n"
                                                "    def release(self, now):\n"
                                                "        Bulkhead.in_use -= 1\n\n"
                                                "    def reject(self, now):\n"
                                                "        self.rejected += 1"}, "l4-isolation"),
    # -- the call path ----------------------------------------------------------------
    "waits-for-a-permit": ({"cell-07": _path("    while not bulkhead.try_acquire(clock()):\n"
                                             "        yield 'waiting for a permit'\n"
                                             "    try:\n"
                                             "        return (yield from call())\n"
                                             "    finally:\n"
                                             "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "waits-once-then-rejects": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                  "        yield 'one more chance'\n"
                                                  "        if not bulkhead.try_acquire(clock()):\n"
                                                  "            bulkhead.reject(clock())\n"
                                                  "            return Outcome.REJECTED\n"
                                                  "    try:\n"
                                                  "        return (yield from call())\n"
                                                  "    finally:\n"
                                                  "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "rejects-as-an-error": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                              "        bulkhead.reject(clock())\n"
                                              "        return Outcome.ERROR\n"
                                              "    try:\n"
                                              "        return (yield from call())\n"
                                              "    finally:\n"
                                              "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "rejection-not-counted": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                "        return Outcome.REJECTED\n"
                                                "    try:\n"
                                                "        return (yield from call())\n"
                                                "    finally:\n"
                                                "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "rejection-counted-twice": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                  "        bulkhead.reject(clock())\n"
                                                  "        bulkhead.rejected += 1\n"
                                                  "        return Outcome.REJECTED\n"
                                                  "    try:\n"
                                                  "        return (yield from call())\n"
                                                  "    finally:\n"
                                                  "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "calls-after-rejecting": ({"cell-07": _path("    acquired = bulkhead.try_acquire(clock())\n"
                                                "    if not acquired:\n"
                                                "        bulkhead.reject(clock())\n"
                                                "    try:\n"
                                                "        return (yield from call())\n"
                                                "    finally:\n"
                                                "        if acquired:\n"
                                                "            bulkhead.release(clock())")}, "l4-reject-fast"),
    "releases-a-permit-it-never-took": ({"cell-07": _path("    try:\n"
                                                          "        if not bulkhead.try_acquire(clock()):\n"
                                                          "            bulkhead.reject(clock())\n"
                                                          "            return Outcome.REJECTED\n"
                                                          "        return (yield from call())\n"
                                                          "    finally:\n"
                                                          "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "releases-before-the-call": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                   "        bulkhead.reject(clock())\n"
                                                   "        return Outcome.REJECTED\n"
                                                   "    bulkhead.release(clock())\n"
                                                   "    return (yield from call())")}, "l4-reject-fast"),
    "outcome-dropped": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                          "        bulkhead.reject(clock())\n"
                                          "        return Outcome.REJECTED\n"
                                          "    try:\n"
                                          "        yield from call()\n"
                                          "    finally:\n"
                                          "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "outcome-always-ok": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                            "        bulkhead.reject(clock())\n"
                                            "        return Outcome.REJECTED\n"
                                            "    try:\n"
                                            "        yield from call()\n"
                                            "        return Outcome.OK\n"
                                            "    finally:\n"
                                            "        bulkhead.release(clock())")}, "l4-reject-fast"),
    "releases-only-on-success": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                   "        bulkhead.reject(clock())\n"
                                                   "        return Outcome.REJECTED\n"
                                                   "    outcome = yield from call()\n"
                                                   "    bulkhead.release(clock())\n"
                                                   "    return outcome")}, "l4-no-leak"),
    "releases-only-on-ok": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                              "        bulkhead.reject(clock())\n"
                                              "        return Outcome.REJECTED\n"
                                              "    try:\n"
                                              "        outcome = yield from call()\n"
                                              "    except Exception:\n"
                                              "        bulkhead.release(clock())\n"
                                              "        raise\n"
                                              "    if outcome == Outcome.OK:\n"
                                              "        bulkhead.release(clock())\n"
                                              "    return outcome")}, "l4-no-leak"),
    "cancellation-leaks": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                             "        bulkhead.reject(clock())\n"
                                             "        return Outcome.REJECTED\n"
                                             "    try:\n"
                                             "        outcome = yield from call()\n"
                                             "    except Exception:\n"
                                             "        bulkhead.release(clock())\n"
                                             "        raise\n"
                                             "    bulkhead.release(clock())\n"
                                             "    return outcome")}, "l4-no-leak"),
    "releases-twice-on-errors": ({"cell-07": _path("    if not bulkhead.try_acquire(clock()):\n"
                                                   "        bulkhead.reject(clock())\n"
                                                   "        return Outcome.REJECTED\n"
                                                   "    try:\n"
                                                   "        return (yield from call())\n"
                                                   "    except Exception:\n"
                                                   "        bulkhead.release(clock())\n"
                                                   "        raise\n"
                                                   "    finally:\n"
                                                   "        bulkhead.release(clock())")}, "l4-no-leak"),
    # -- sizing ---------------------------------------------------------------------
    "size-rounds-to-nearest": ({"cell-11": _size("round(rate * latency * headroom)")}, "l4-sizing"),
    "size-truncates": ({"cell-11": _size("int(rate * latency * headroom)")}, "l4-sizing"),
    "size-always-adds-one": ({"cell-11": _size("int(rate * latency * headroom) + 1")}, "l4-sizing"),
    "size-not-rounded": ({"cell-11": _size("rate * latency * headroom")}, "l4-sizing"),
    "size-forgets-headroom": ({"cell-11": _size("math.ceil(rate * latency)")}, "l4-sizing"),
    "size-headroom-hard-coded": ({"cell-11": _size("math.ceil(rate * latency * 2)")}, "l4-sizing"),
    "size-rounds-before-headroom": ({"cell-11": _size("math.ceil(rate * latency) * headroom")}, "l4-sizing"),
    "size-rate-over-latency": ({"cell-11": _size("math.ceil(rate / latency * headroom)")}, "l4-sizing"),
    "size-default-headroom-one": ({"cell-11": _size("math.ceil(rate * latency * headroom)",
                                                    "rate, latency, headroom=1")}, "l4-sizing"),
}
