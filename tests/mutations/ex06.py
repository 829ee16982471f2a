"""Exercise 6, fallbacks, a queue for later and idempotency keys: answers written differently, and mistakes.

The chain is cell-04, the receiver cell-14, the queue cell-18. A mistake in one of
them replaces only that cell; the others stay the solution's.
"""

EXERCISE = "06-fallbacks"

CHAIN = """class FallbackChain:
    def __init__(self, max_age, default=None, critical=False):
        self.max_age = max_age
        self.default = default
        self.critical = critical
        self.cache = {{}}

    def serve(self, now, key, call):
{serve}
"""
SERVE_HEAD = """        try:
            value = call()
        except Exception:
            pass
        else:
            self.cache[key] = (now, value)
            return ("fresh", value, 0)
"""
FALL_BACK = """        if self.critical:
            return ("failed", None, None)
        if key in self.cache:
            stored_at, value = self.cache[key]
            if now - stored_at <= self.max_age:
                return ("cache", value, now - stored_at)
        if self.default is not None:
            return ("default", self.default, None)
        return ("degraded", None, None)
"""


def chain(serve=SERVE_HEAD + FALL_BACK):
    return {"cell-04": CHAIN.format(serve=serve.rstrip("\n"))}


QUEUE = """class WriteQueue:
    def __init__(self, capacity):
        self.capacity = capacity
        self.held = {{}}
        self.waiting = deque()

    def accept(self, now, key, request):
{accept}

    def next(self, now):
        if not self.waiting:
            return None
        key = self.waiting.popleft()
        return key, self.held[key]

    def done(self, now, key):
        del self.held[key]

    def failed(self, now, key):
{failed}
"""
ACCEPT = """        if key in self.held:
            return True
        if len(self.held) >= self.capacity:
            return False
        self.held[key] = request
        self.waiting.append(key)
        return True"""
FAILED = "        self.waiting.appendleft(key)"


def queue(accept=ACCEPT, failed=FAILED):
    return {"cell-18": QUEUE.format(accept=accept, failed=failed)}


def receiver(handle, init="        self.results = {}"):
    return {"cell-14": "class IdempotentReceiver:\n    def __init__(self):\n" + init + "\n\n"
                       "    def handle(self, key, request, work):\n" + handle}


CORRECT = {
    # The chain's steps as a list of methods; an OrderedDict queue with a set in flight;
    # a receiver with a sentinel for "not seen".
    "steps-as-methods-ordered-dict": {
        "cell-02": "from collections import OrderedDict, deque\n\n"
                   "from resilience_lab.checks import lesson06 as checks",
        "cell-04": """class FallbackChain:
    \"\"\"Each fallback step is a method returning an answer or None; the first answer wins.\"\"\"

    def __init__(self, max_age, default=None, critical=False):
        self.max_age = max_age
        self.default = default
        self.critical = critical
        self.last = {}
        self.steps = [] if critical else [self.from_cache, self.from_default, self.left_out]

    def serve(self, now, key, call):
        try:
            answer = call()
        except Exception:
            for step in self.steps:
                served = step(now, key)
                if served is not None:
                    return served
            return ("failed", None, None)
        self.last[key] = (now, answer)
        return ("fresh", answer, 0.0)

    def from_cache(self, now, key):
        if key in self.last and now - self.last[key][0] <= self.max_age:
            return ("cache", self.last[key][1], now - self.last[key][0])

    def from_default(self, now, key):
        if self.default is not None:
            return ("default", self.default, None)

    def left_out(self, now, key):
        return ("degraded", None, None)
""",
        "cell-14": """_UNSEEN = object()


class IdempotentReceiver:
    def __init__(self):
        self.done = {}

    def handle(self, key, request, work):
        result = self.done.get(key, _UNSEEN)
        if result is _UNSEEN:
            result = work(request)
            self.done[key] = result
        return result
""",
        "cell-18": """class WriteQueue:
    def __init__(self, capacity):
        self.capacity = capacity
        self.waiting = OrderedDict()  # key -> request, the next to send first
        self.in_flight = {}

    def accept(self, now, key, request):
        if key in self.waiting or key in self.in_flight:
            return True
        if len(self.waiting) + len(self.in_flight) == self.capacity:
            return False
        self.waiting[key] = request
        return True

    def next(self, now):
        if not self.waiting:
            return None
        key, request = self.waiting.popitem(last=False)
        self.in_flight[key] = request
        return (key, request)

    def done(self, now, key):
        self.in_flight.pop(key)

    def failed(self, now, key):
        self.waiting[key] = self.in_flight.pop(key)
        self.waiting.move_to_end(key, last=False)
""",
    },
    # A namedtuple per cached entry and list answers; a heap of sequence numbers (a failed
    # write keeps its place, the oldest); a receiver that asks forgiveness.
    "namedtuple-heap-lists": {
        "cell-02": "import heapq\nimport math\nfrom collections import deque, namedtuple\n\n"
                   "from resilience_lab.checks import lesson06 as checks\n\nEntry = namedtuple('Entry', 'time value')",
        "cell-04": """class FallbackChain:
    def __init__(self, max_age, default=None, critical=False):
        self.max_age = max_age
        self.default = default
        self.critical = critical
        self.entries = {}

    def serve(self, now, key, call):
        try:
            self.entries[key] = Entry(now, call())
            return ["fresh", self.entries[key].value, 0]
        except Exception:
            if self.critical:
                return ["failed", None, None]
        entry = self.entries.get(key, Entry(-math.inf, None))
        age = now - entry.time
        if age <= self.max_age:
            return ["cache", entry.value, age]
        return ["default", self.default, None] if self.default is not None else ["degraded", None, None]
""",
        "cell-14": """class IdempotentReceiver:
    def __init__(self):
        self.receipts = {}

    def handle(self, key, request, work):
        try:
            return self.receipts[key]
        except KeyError:
            receipt = self.receipts[key] = work(request)
            return receipt
""",
        "cell-18": """class WriteQueue:
    def __init__(self, capacity):
        self.capacity = capacity
        self.number = {}  # key -> its place in line
        self.requests = {}
        self.heap = []
        self.count = 0

    def accept(self, now, key, request):
        if key in self.requests:
            return True
        if len(self.requests) >= self.capacity:
            return False
        self.count += 1
        self.number[key], self.requests[key] = self.count, request
        heapq.heappush(self.heap, (self.count, key))
        return True

    def next(self, now):
        if not self.heap:
            return None
        _, key = heapq.heappop(self.heap)
        return key, self.requests[key]

    def done(self, now, key):
        del self.requests[key], self.number[key]

    def failed(self, now, key):
        heapq.heappush(self.heap, (self.number[key], key))
""",
    },
    # Everything under a lock, as a threaded server would have it; the queue a list of
    # [key, request, in_flight] entries.
    "locks-and-a-list": {
        "cell-02": "import threading\nfrom collections import deque\n\n"
                   "from resilience_lab.checks import lesson06 as checks",
        "cell-04": """class FallbackChain:
    def __init__(self, max_age, default=None, critical=False):
        self.max_age = max_age
        self.default = default
        self.critical = critical
        self.lock = threading.Lock()
        self.times, self.values = {}, {}

    def serve(self, now, key, call):
        ok = True
        try:
            value = call()
        except Exception:
            ok = False
        with self.lock:
            if ok:
                self.times[key], self.values[key] = now, value
                return ("fresh", value, 0)
            fresh_enough = key in self.times and now - self.times[key] <= self.max_age
            if self.critical:
                return ("failed", None, None)
            if fresh_enough:
                return ("cache", self.values[key], now - self.times[key])
            if self.default is None:
                return ("degraded", None, None)
            return ("default", self.default, None)
""",
        "cell-14": """class IdempotentReceiver:
    def __init__(self):
        self.lock = threading.RLock()
        self.seen = {}

    def handle(self, key, request, work):
        with self.lock:
            if key not in self.seen:
                self.seen[key] = work(request)
            return self.seen[key]
""",
        "cell-18": """class WriteQueue:
    def __init__(self, capacity):
        self.capacity = capacity
        self.entries = []  # [key, request, in flight], the next to send first
        self.lock = threading.Lock()

    def accept(self, now, key, request):
        with self.lock:
            if any(entry[0] == key for entry in self.entries):
                return True
            if len(self.entries) >= self.capacity:
                return False
            self.entries.append([key, request, False])
            return True

    def next(self, now):
        with self.lock:
            for entry in self.entries:
                if not entry[2]:
                    entry[2] = True
                    return entry[0], entry[1]
            return None

    def done(self, now, key):
        with self.lock:
            self.entries = [e for e in self.entries if e[0] != key]

    def failed(self, now, key):
        with self.lock:
            entry = next(e for e in self.entries if e[0] == key)
            self.entries.remove(entry)
            entry[2] = False
            self.entries.insert(0, entry)
""",
    },
}

WRONG = {
    # -- the chain -------------------------------------------------------------------
    "cache-of-any-age": (chain(SERVE_HEAD + FALL_BACK.replace("now - stored_at <= self.max_age", "True")),
                         "l6-max-age"),
    "one-cache-slot-for-every-product": (chain(SERVE_HEAD.replace("self.cache[key] = (now, value)",
                                                                  "self.cache = {'last': (now, value)}")
                                               + FALL_BACK.replace("if key in self.cache:\n", "if self.cache:\n")
                                               .replace("self.cache[key]", "self.cache['last']")), "l6-max-age"),
    "fallback-calls-the-failing-dependency-again": (chain("""        for attempt in range(2):
            try:
                value = call()
            except Exception:
                continue
            self.cache[key] = (now, value)
            return ("fresh", value, 0)
""" + FALL_BACK), "l6-chain"),
    "critical-dependency-masked-by-the-cache": (chain(SERVE_HEAD + FALL_BACK.replace(
        "        if self.critical:\n            return (\"failed\", None, None)\n", "")), "l6-critical"),
    "optional-error-propagates-after-the-cache": (chain(SERVE_HEAD + FALL_BACK.replace(
        'return ("degraded", None, None)', 'return ("failed", None, None)')), "l6-availability"),
    "default-before-the-cache": (chain(SERVE_HEAD + """        if self.critical:
            return ("failed", None, None)
        if self.default is not None:
            return ("default", self.default, None)
        if key in self.cache and now - self.cache[key][0] <= self.max_age:
            return ("cache", self.cache[key][1], now - self.cache[key][0])
        return ("degraded", None, None)
"""), "l6-max-age"),
    "cache-never-refreshed": (chain(SERVE_HEAD.replace("self.cache[key] = (now, value)",
                                                       "self.cache.setdefault(key, (now, value))") + FALL_BACK),
                              "l6-max-age"),
    "age-counted-from-the-wrong-end": (chain(SERVE_HEAD + FALL_BACK.replace(
        'return ("cache", value, now - stored_at)', 'return ("cache", value, self.max_age - (now - stored_at))')),
        "l6-max-age"),
    "catches-connection-errors-only": (chain(SERVE_HEAD.replace("except Exception:", "except ConnectionError:")
                                             + FALL_BACK), "l6-availability"),
    "one-cache-shared-by-every-chain": ({"cell-04": CHAIN.format(serve=(SERVE_HEAD + FALL_BACK).rstrip("\n"))
                                        .replace("        self.cache = {}\n", "")
                                        .replace("class FallbackChain:\n", "class FallbackChain:\n    cache = {}\n\n")},
                                       "l6-chain"),
    # -- the receiver ------------------------------------------------------------------
    "retries-without-a-key-charge-again": (receiver("        return work(request)\n", init="        pass"),
                                           "l6-exactly-once"),
    "dedupes-on-the-request-not-the-key": (receiver("""        if request not in self.results:
            self.results[request] = work(request)
        return self.results[request]
"""), "l6-exactly-once"),
    "remembers-the-key-before-the-work": (receiver("""        if key in self.results:
            return self.results[key]
        self.results[key] = None
        self.results[key] = work(request)
        return self.results[key]
"""), "l6-idempotency"),
    # -- the queue ------------------------------------------------------------------------
    "drops-silently-when-full": (queue(accept=ACCEPT.replace("return False", "return True")), "l6-exactly-once"),
    "unbounded-queue": (queue(accept=ACCEPT.replace("len(self.held) >= self.capacity", "False")), "l6-queue"),
    "forgets-a-write-whose-send-failed": (queue(failed="        del self.held[key]"), "l6-exactly-once"),
    "failed-write-goes-to-the-back": (queue(failed="        self.waiting.append(key)"), "l6-queue"),
    "retry-queued-twice": (queue(accept=ACCEPT.replace("        if key in self.held:\n            return True\n", "")),
                           "l6-queue"),
}
