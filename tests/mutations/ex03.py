"""Exercise 3, a circuit breaker: answers written differently, and mistakes.

Every variant replaces the breaker (cell-04). The mistakes are the solution's
class with one thing changed (:func:`_mistake`), so each differs from a correct
breaker in exactly the way its name says.
"""

EXERCISE = "03-circuit-breaker"

#: The solution's breaker (cell-04 without its solution markers); the mistakes edit it.
SOLUTION = '''\
class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate = failure_rate
        self.window = window
        self.minimum_calls = minimum_calls
        self.open_for = open_for
        self.probes = probes
        self.state = "closed"
        self.outcomes = deque()  # (time, failed), oldest first
        self.opened_at = -math.inf
        self.admitted = 0
        self.succeeded = 0

    def allow(self, now):
        if self.state == "open" and now >= self.opened_at + self.open_for:
            self.state, self.admitted, self.succeeded = "half_open", 0, 0
        if self.state == "half_open":
            if self.admitted < self.probes:
                self.admitted += 1
                return True
            return False
        return self.state == "closed"

    def record(self, now, ok):
        if self.state == "closed":
            self.outcomes.append((now, not ok))
            while now - self.outcomes[0][0] >= self.window:
                self.outcomes.popleft()
            calls = len(self.outcomes)
            failures = sum(failed for _, failed in self.outcomes)
            if calls >= self.minimum_calls and failures / calls >= self.failure_rate:
                self._open(now)
        elif self.state == "half_open":
            if not ok:
                self._open(now)
            else:
                self.succeeded += 1
                if self.succeeded >= self.probes:
                    self.state = "closed"
                    self.outcomes.clear()

    def _open(self, now):
        self.state = "open"
        self.opened_at = now
        self.outcomes.clear()
'''


def _mistake(*edits):
    """The solution's breaker with each ``(old, new)`` text replaced (each ``old`` must occur once)."""
    source = SOLUTION
    for old, new in edits:
        assert source.count(old) == 1, f"not exactly once in the solution: {old!r}"
        source = source.replace(old, new)
    return {"cell-04": source}


CORRECT = {
    "table-driven": {"cell-04": '''\
NEXT = {  # state -> {event: next state}
    "closed": {"too many failures": "open"},
    "open": {"open period over": "half_open"},
    "half_open": {"a probe failed": "open", "enough probes succeeded": "closed"},
}


class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate, self.window, self.minimum_calls = failure_rate, window, minimum_calls
        self.open_for, self.probes = open_for, probes
        self.state = "closed"
        self.history = []
        self.open_until = -math.inf
        self.probes_left = self.successes_needed = 0

    def _go(self, event, now):
        self.state = NEXT[self.state][event]
        self.history = []
        if self.state == "open":
            self.open_until = now + self.open_for
        elif self.state == "half_open":
            self.probes_left = self.successes_needed = self.probes

    def allow(self, now):
        if self.state == "open" and now >= self.open_until:
            self._go("open period over", now)
        if self.state == "half_open" and self.probes_left > 0:
            self.probes_left -= 1
            return True
        return self.state == "closed"

    def record(self, now, ok):
        if self.state == "closed":
            self.history = [(t, bad) for t, bad in self.history if now - t < self.window] + [(now, not ok)]
            bad = sum(b for _, b in self.history)
            if len(self.history) >= self.minimum_calls and bad / len(self.history) >= self.failure_rate:
                self._go("too many failures", now)
        elif self.state == "half_open":
            if not ok:
                self._go("a probe failed", now)
            else:
                self.successes_needed -= 1
                if self.successes_needed == 0:
                    self._go("enough probes succeeded", now)
'''},
    "class-per-state": {"cell-04": '''\
class Closed:
    name = "closed"

    def __init__(self, breaker):
        self.breaker, self.seen = breaker, deque()

    def allow(self, now):
        return True

    def record(self, now, ok):
        b = self.breaker
        self.seen.append((now, ok))
        while now - self.seen[0][0] >= b.window:
            self.seen.popleft()
        failed = sum(1 for _, good in self.seen if not good)
        if len(self.seen) >= b.minimum_calls and failed / len(self.seen) >= b.failure_rate:
            b.current = Open(b, now)


class Open:
    name = "open"

    def __init__(self, breaker, since):
        self.breaker, self.since = breaker, since

    def allow(self, now):
        b = self.breaker
        if now < self.since + b.open_for:
            return False
        b.current = HalfOpen(b)
        return b.current.allow(now)

    def record(self, now, ok):
        pass  # a call that started before the trip


class HalfOpen:
    name = "half_open"

    def __init__(self, breaker):
        self.breaker, self.let_in, self.good = breaker, 0, 0

    def allow(self, now):
        if self.let_in == self.breaker.probes:
            return False
        self.let_in += 1
        return True

    def record(self, now, ok):
        b = self.breaker
        if not ok:
            b.current = Open(b, now)
            return
        self.good += 1
        if self.good == b.probes:
            b.current = Closed(b)


class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate, self.window, self.minimum_calls = failure_rate, window, minimum_calls
        self.open_for, self.probes = open_for, probes
        self.current = Closed(self)

    @property
    def state(self):
        return self.current.name

    def allow(self, now):
        return self.current.allow(now)

    def record(self, now, ok, duration=None):
        self.current.record(now, ok)
'''},
    "deques-of-timestamps": {"cell-04": '''\
class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate = failure_rate
        self.window = window
        self.minimum_calls = minimum_calls
        self.open_for = open_for
        self.probes = probes
        self.state = "closed"
        self.call_times = deque()     # when each outcome in the window was recorded
        self.failure_times = deque()  # when each failure among them was recorded
        self.opened_at = None
        self.probes_sent = self.probes_ok = 0

    def _forget(self, now):
        for times in (self.call_times, self.failure_times):
            while times and times[0] + self.window <= now:
                times.popleft()

    def _trip(self, now):
        self.state, self.opened_at = "open", now
        self.call_times.clear()
        self.failure_times.clear()

    def allow(self, now):
        if self.state == "closed":
            return True
        if self.state == "open":
            if now - self.opened_at < self.open_for:
                return False
            self.state, self.probes_sent, self.probes_ok = "half_open", 0, 0
        if self.probes_sent >= self.probes:
            return False
        self.probes_sent += 1
        return True

    def record(self, now, ok):
        if self.state == "half_open":
            if ok:
                self.probes_ok += 1
                if self.probes_ok == self.probes:
                    self.state = "closed"
            else:
                self._trip(now)
        elif self.state == "closed":
            self.call_times.append(now)
            if not ok:
                self.failure_times.append(now)
            self._forget(now)
            calls = len(self.call_times)
            if calls >= self.minimum_calls and len(self.failure_times) >= self.failure_rate * calls:
                self._trip(now)
'''},
    "thread-safe-rlock": {"cell-04": '''\
import threading


class Breaker:
    """Safe to share between threads, as pybreaker's: every method holds the lock."""

    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self._lock = threading.RLock()
        self.failure_rate, self.window, self.minimum_calls = failure_rate, window, minimum_calls
        self.open_for, self.probes = open_for, probes
        self._state = "closed"
        self._outcomes = deque()
        self._failures = 0
        self._opened_at = -math.inf
        self._admitted = self._succeeded = 0

    @property
    def state(self):
        with self._lock:
            return self._state

    def _move(self, state, now):
        with self._lock:
            self._state = state
            self._outcomes.clear()
            self._failures = 0
            if state == "open":
                self._opened_at = now
            elif state == "half_open":
                self._admitted = self._succeeded = 0

    def allow(self, now):
        with self._lock:
            if self._state == "open" and now >= self._opened_at + self.open_for:
                self._move("half_open", now)
            if self._state == "half_open":
                if self._admitted >= self.probes:
                    return False
                self._admitted += 1
            return self._state != "open"

    def record(self, now, ok):
        with self._lock:
            if self._state == "closed":
                self._outcomes.append((now, not ok))
                self._failures += not ok
                while self._outcomes and now - self._outcomes[0][0] >= self.window:
                    self._failures -= self._outcomes.popleft()[1]
                calls = len(self._outcomes)
                if calls >= self.minimum_calls and self._failures / calls >= self.failure_rate:
                    self._move("open", now)
            elif self._state == "half_open":
                if not ok:
                    self._move("open", now)
                else:
                    self._succeeded += 1
                    if self._succeeded >= self.probes:
                        self._move("closed", now)
'''},
    "thread-safe-lock": {"cell-04": '''\
import threading


class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.lock = threading.Lock()
        self.failure_rate, self.window, self.minimum_calls = failure_rate, window, minimum_calls
        self.open_for, self.probes = open_for, probes
        self.state = "closed"
        self.outcomes = deque()
        self.opened_at = -math.inf
        self.admitted = self.succeeded = 0

    def allow(self, now):
        with self.lock:
            if self.state == "open" and now >= self.opened_at + self.open_for:
                self.state, self.admitted, self.succeeded = "half_open", 0, 0
            if self.state == "half_open" and self.admitted < self.probes:
                self.admitted += 1
                return True
            return self.state == "closed"

    def record(self, now, ok):
        with self.lock:
            if self.state == "closed":
                self.outcomes.append((now, not ok))
                while now - self.outcomes[0][0] >= self.window:
                    self.outcomes.popleft()
                failures = sum(f for _, f in self.outcomes)
                if len(self.outcomes) >= self.minimum_calls and failures >= self.failure_rate * len(self.outcomes):
                    self.state, self.opened_at = "open", now
                    self.outcomes.clear()
            elif self.state == "half_open":
                if not ok:
                    self.state, self.opened_at = "open", now
                else:
                    self.succeeded += 1
                    if self.succeeded == self.probes:
                        self.state = "closed"
'''},
    "enum-states": {"cell-04": '''\
import enum


class State(enum.Enum):
    CLOSED = enum.auto()
    OPEN = enum.auto()
    HALF_OPEN = enum.auto()


class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate = failure_rate
        self.window = window
        self.minimum_calls = minimum_calls
        self.open_for = open_for
        self.probes = probes
        self.state = State.CLOSED
        self.window_outcomes = []
        self.opened_at = 0.0
        self.admitted = self.succeeded = 0

    def allow(self, now):
        if self.state is State.OPEN:
            if now < self.opened_at + self.open_for:
                return False
            self.state = State.HALF_OPEN
            self.admitted = self.succeeded = 0
        if self.state is State.HALF_OPEN:
            allowed = self.admitted < self.probes
            self.admitted += allowed
            return allowed
        return True

    def record(self, now, ok):
        if self.state is State.OPEN:
            return
        if self.state is State.HALF_OPEN:
            if ok:
                self.succeeded += 1
            if not ok or self.succeeded == self.probes:
                self._enter(State.CLOSED if ok else State.OPEN, now)
            return
        self.window_outcomes = [(t, f) for t, f in self.window_outcomes if t > now - self.window]
        self.window_outcomes.append((now, not ok))
        failures = [f for _, f in self.window_outcomes if f]
        n = len(self.window_outcomes)
        if n >= self.minimum_calls and len(failures) / n >= self.failure_rate:
            self._enter(State.OPEN, now)

    def _enter(self, state, now):
        self.state = state
        self.window_outcomes = []
        if state is State.OPEN:
            self.opened_at = now
'''},
    "bisect-and-running-counts": {"cell-04": '''\
import bisect


class Breaker:
    def __init__(self, failure_rate=0.5, window=10.0, minimum_calls=20, open_for=5.0, probes=1):
        self.failure_rate, self.window = float(failure_rate), float(window)
        self.minimum_calls, self.open_for, self.probes = int(minimum_calls), float(open_for), int(probes)
        self.state = "closed"
        self.times, self.failed = [], []   # parallel lists, oldest first
        self.reopen_at = 0.0
        self.tries = self.wins = 0

    def allow(self, now):
        if self.state == "open":
            if now < self.reopen_at:
                return False
            self.state, self.tries, self.wins = "half_open", 0, 0
        if self.state == "closed":
            return True
        self.tries += 1
        return self.tries <= self.probes

    def record(self, now, ok):
        if self.state == "closed":
            self.times.append(now)
            self.failed.append(0 if ok else 1)
            first = bisect.bisect_right(self.times, now - self.window)  # drop t with now - t >= window
            del self.times[:first], self.failed[:first]
            if len(self.times) >= self.minimum_calls and sum(self.failed) >= self.failure_rate * len(self.times):
                self.trip(now)
        elif self.state == "half_open":
            if not ok:
                self.trip(now)
                return
            self.wins += 1
            if self.wins >= self.probes:
                self.state = "closed"
                self.times, self.failed = [], []

    def trip(self, now):
        self.state, self.reopen_at = "open", now + self.open_for
        self.times, self.failed = [], []
'''},
    "dataclass-keyword-only": {"cell-04": '''\
from dataclasses import dataclass, field


@dataclass
class Breaker:
    failure_rate: float = 0.5
    window: float = 10.0
    minimum_calls: int = 20
    open_for: float = 5.0
    probes: int = 1
    state: str = "closed"
    outcomes: list = field(default_factory=list)
    opened_at: float = -math.inf
    probe_calls: int = 0
    probe_successes: int = 0

    def allow(self, now: float) -> bool:
        if self.state == "open" and now - self.opened_at >= self.open_for:
            self.state, self.probe_calls, self.probe_successes = "half_open", 0, 0
        if self.state != "half_open":
            return self.state == "closed"
        if self.probe_calls == self.probes:
            return False
        self.probe_calls += 1
        return True

    def record(self, now: float, ok: bool, *, duration: float = 0.0) -> None:
        match self.state:
            case "closed":
                self.outcomes = [o for o in self.outcomes if now - o[0] < self.window] + [(now, ok)]
                failures = sum(not good for _, good in self.outcomes)
                if len(self.outcomes) >= self.minimum_calls and failures / len(self.outcomes) >= self.failure_rate:
                    self.state, self.opened_at, self.outcomes = "open", now, []
            case "half_open" if not ok:
                self.state, self.opened_at = "open", now
            case "half_open":
                self.probe_successes += 1
                if self.probe_successes == self.probes:
                    self.state, self.outcomes = "closed", []
'''},
}

WRONG = {
    # -- closed: the rate over the window (l3-trip) ------------------------------------------
    "consecutive-failures": (_mistake(
        ("        self.succeeded = 0\n", "        self.succeeded = 0\n        self.streak = 0\n"),
        ("            calls = len(self.outcomes)\n"
         "            failures = sum(failed for _, failed in self.outcomes)\n"
         "            if calls >= self.minimum_calls and failures / calls >= self.failure_rate:\n",
         "            self.streak = 0 if ok else self.streak + 1\n"
         "            if self.streak >= self.minimum_calls:\n")), "l3-trip"),
    "threshold-strict": (_mistake(("failures / calls >= self.failure_rate", "failures / calls > self.failure_rate")),
                         "l3-trip"),
    "ignores-minimum-calls": (_mistake(("if calls >= self.minimum_calls and failures", "if failures")), "l3-trip"),
    "minimum-calls-strict": (_mistake(("if calls >= self.minimum_calls", "if calls > self.minimum_calls")), "l3-trip"),
    "minimum-counts-failures": (_mistake(("if calls >= self.minimum_calls", "if failures >= self.minimum_calls")),
                                "l3-trip"),
    "success-clears-window": (_mistake(
        ("            self.outcomes.append((now, not ok))\n",
         "            if ok:\n"
         "                self.outcomes.clear()\n"
         "            self.outcomes.append((now, not ok))\n")), "l3-trip"),
    "window-keeps-its-edge": (_mistake(
        ("now - self.outcomes[0][0] >= self.window", "now - self.outcomes[0][0] > self.window")), "l3-trip"),
    "window-never-slides": (_mistake(
        ("            while now - self.outcomes[0][0] >= self.window:\n"
         "                self.outcomes.popleft()\n", "")), "l3-trip"),
    "window-of-calls-not-seconds": (_mistake(
        ("while now - self.outcomes[0][0] >= self.window:", "while len(self.outcomes) > self.window:")), "l3-trip"),
    "checks-rate-only-on-a-failure": (_mistake(
        ("if calls >= self.minimum_calls and failures", "if not ok and calls >= self.minimum_calls and failures")),
        "l3-trip"),
    "rate-over-calls-allowed": (_mistake(
        ("        self.succeeded = 0\n", "        self.succeeded = 0\n        self.allowed = deque()\n"),
        ("        return self.state == \"closed\"\n",
         "        if self.state == \"closed\":\n"
         "            self.allowed.append(now)\n"
         "        return self.state == \"closed\"\n"),
        ("            calls = len(self.outcomes)\n",
         "            while self.allowed and now - self.allowed[0] >= self.window:\n"
         "                self.allowed.popleft()\n"
         "            calls = len(self.allowed)\n")), "l3-trip"),
    # -- the constructor's arguments, each at the lesson's or the signature's value ----------------
    "hard-codes-lesson-settings": (_mistake(
        ("        self.failure_rate = failure_rate\n"
         "        self.window = window\n"
         "        self.minimum_calls = minimum_calls\n"
         "        self.open_for = open_for\n"
         "        self.probes = probes\n",
         "        self.failure_rate, self.window, self.minimum_calls = 0.5, 2.0, 20\n"
         "        self.open_for, self.probes = 3.0, 1\n")), "l3-trip"),
    "ignores-failure-rate": (_mistake(("self.failure_rate = failure_rate", "self.failure_rate = 0.5")), "l3-trip"),
    "ignores-window": (_mistake(("self.window = window", "self.window = 10.0")), "l3-trip"),
    "ignores-minimum-calls-argument": (_mistake(("self.minimum_calls = minimum_calls", "self.minimum_calls = 20")),
                                       "l3-trip"),
    "ignores-open-for": (_mistake(("self.open_for = open_for", "self.open_for = 5.0")), "l3-recover"),
    "ignores-probes": (_mistake(("self.probes = probes", "self.probes = 1")), "l3-recover"),
    # -- open (l3-recover) -------------------------------------------------------------------------
    "open-from-first-failure": (_mistake(
        ("                self._open(now)\n        elif",
         "                self._open(min(t for t, failed in self.outcomes if failed))\n        elif")),
        "l3-recover"),
    "open-period-end-strict": (_mistake(
        ("now >= self.opened_at + self.open_for", "now > self.opened_at + self.open_for")), "l3-recover"),
    "refuses-the-call-that-ends-the-open-period": (_mistake(
        ("            self.state, self.admitted, self.succeeded = \"half_open\", 0, 0\n",
         "            self.state, self.admitted, self.succeeded = \"half_open\", 0, 0\n"
         "            return False\n")), "l3-recover"),
    "late-outcome-ends-the-open-period": (_mistake(
        ("    def record(self, now, ok):\n",
         "    def record(self, now, ok):\n"
         "        if self.state == \"open\" and now >= self.opened_at + self.open_for:\n"
         "            self.state, self.admitted, self.succeeded = \"half_open\", 1, 0\n")), "l3-recover"),
    "counts-outcomes-while-open": (_mistake(
        ("        if self.state == \"closed\":\n            self.outcomes.append",
         "        if self.state == \"open\":\n"
         "            self.outcomes.append((now, not ok))\n"
         "        if self.state == \"closed\":\n"
         "            self.outcomes.append"),
        ("                    self.state = \"closed\"\n                    self.outcomes.clear()\n",
         "                    self.state = \"closed\"\n")), "l3-recover"),
    # -- half-open (l3-recover) --------------------------------------------------------------------
    "half-open-herd": (_mistake(("            if self.admitted < self.probes:\n", "            if True:\n")),
                       "l3-recover"),
    "probes-in-flight-not-in-total": (_mistake(
        ("            else:\n                self.succeeded += 1\n",
         "            else:\n                self.succeeded += 1\n                self.admitted -= 1\n")),
        "l3-recover"),
    "one-success-closes": (_mistake(("if self.succeeded >= self.probes:", "if self.succeeded >= 1:")), "l3-recover"),
    "failed-probe-keeps-the-open-period": (_mistake(
        ("            if not ok:\n                self._open(now)\n",
         "            if not ok:\n                self.state = \"open\"\n")), "l3-recover"),
    "failed-probe-waits-for-the-others": (_mistake(
        ("            if not ok:\n"
         "                self._open(now)\n"
         "            else:\n"
         "                self.succeeded += 1\n"
         "                if self.succeeded >= self.probes:\n",
         "            self.done = getattr(self, \"done\", 0) + 1\n"
         "            self.succeeded += ok\n"
         "            if self.done >= self.probes and self.succeeded < self.probes:\n"
         "                self.done = 0\n"
         "                self._open(now)\n"
         "            elif self.succeeded >= self.probes:\n"
         "                self.done = 0\n"
         "                if True:\n")), "l3-recover"),
    "successes-not-reset-for-a-new-half-open": (_mistake(
        ("\"half_open\", 0, 0", "\"half_open\", 0, self.succeeded"),
        ("                    self.state = \"closed\"\n",
         "                    self.state, self.succeeded = \"closed\", 0\n")), "l3-recover"),
    "ignores-outcomes-of-calls-before-the-trip": (_mistake(
        ("            else:\n                self.succeeded += 1\n",
         "            elif self.succeeded < self.admitted:  # more successes than probes: not a probe's\n"
         "                self.succeeded += 1\n")), "l3-recover"),
    "keeps-the-window-after-closing": (_mistake(
        ("        self.state = \"open\"\n        self.opened_at = now\n        self.outcomes.clear()\n",
         "        self.state = \"open\"\n        self.opened_at = now\n"),
        ("                    self.state = \"closed\"\n                    self.outcomes.clear()\n",
         "                    self.state = \"closed\"\n")), "l3-recover"),
    # -- in the world (l3-world) -------------------------------------------------------------------
    "never-trips": (_mistake(("                self._open(now)\n        elif", "                pass\n        elif")),
                    "l3-world"),
    "never-lets-a-probe-through": (_mistake(
        ("            if self.admitted < self.probes:\n", "            if False:\n")), "l3-world"),
}
