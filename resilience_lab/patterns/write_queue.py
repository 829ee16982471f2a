"""Queue for later, and idempotency keys: writes that are never lost and never done twice. No clock inside.

**Queue for later** (:class:`WriteQueue`). When the dependency that does a write
(a payment service charging a card) is down, the caller does not fail the
write: it keeps it, answers ``202 Accepted``, and sends it when the dependency
is back. The rules that make this safe:

- **bounded, and says so when full**: at most ``capacity`` writes are held;
  :meth:`~WriteQueue.accept` returns ``False`` for one more (the caller answers
  ``503``, try again later). A queue that drops a write it said it accepted has
  lost it, and nobody knows.
- **one write, one entry**: a write is named by its idempotency key. The same
  key again (the client retried) is accepted and not queued twice.
- **removed only when done**: :meth:`~WriteQueue.next` hands out the oldest
  waiting write and keeps it, marked in flight; :meth:`~WriteQueue.done`
  forgets it once the dependency confirmed it; :meth:`~WriteQueue.failed` puts
  it back at the front, to go next. A write taken out of the queue before it is
  confirmed is lost when the send fails.

In a real system the queue is durable (a table, a log, a message queue): it
survives a restart of the caller. Here it is an object in memory, and the
simulation never restarts it.

**Idempotency keys** (:class:`IdempotentReceiver`). After a timeout or a lost
answer, the sender cannot tell whether the write was done; it must send it
again, so the receiver may get it twice. The receiver remembers each key it has
done and the result it gave: the same key again returns that result without
doing the work a second time. Queue + retries deliver at least once; the key
makes the effect happen exactly once. (The receiver must store the key and do
the work atomically, in one transaction; a real one also forgets keys after a
while: Stripe may drop a key once it is 24 hours old.)
"""

from __future__ import annotations

from collections import deque


class WriteQueue:
    """At most ``capacity`` writes, by idempotency key, oldest first. See the module docstring.

    Counters: ``accepted`` (new writes taken), ``refused`` (turned away because
    the queue was full), ``duplicates`` (keys accepted again while held).
    ``len(queue)`` is the number of writes held: waiting or in flight.
    """

    def __init__(self, capacity: int):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"WriteQueue: capacity must be a whole number >= 0, got {capacity!r}")
        self.capacity = capacity
        self._held = {}  # key -> request, waiting or in flight
        self._waiting = deque()  # keys, the next to send first
        self._in_flight = set()
        self.accepted = self.refused = self.duplicates = 0

    def accept(self, now: float, key, request) -> bool:
        """Keep ``request`` under ``key`` for later: ``True`` (202 Accepted) or ``False`` (full: 503)."""
        if key is None:
            raise ValueError("WriteQueue.accept: a write needs an idempotency key, got None")
        if key in self._held:
            self.duplicates += 1
            return True
        if len(self._held) >= self.capacity:
            self.refused += 1
            return False
        self._held[key] = request
        self._waiting.append(key)
        self.accepted += 1
        return True

    def next(self, now: float):
        """The oldest waiting write as ``(key, request)``, now in flight; ``None`` if none waits."""
        if not self._waiting:
            return None
        key = self._waiting.popleft()
        self._in_flight.add(key)
        return key, self._held[key]

    def done(self, now: float, key) -> None:
        """The dependency confirmed the write ``key``: forget it."""
        self._take_back(key, "done")
        del self._held[key]

    def failed(self, now: float, key) -> None:
        """The send of ``key`` failed (or its answer was lost): it goes back to the front."""
        self._take_back(key, "failed")
        self._waiting.appendleft(key)

    def _take_back(self, key, what):
        if key not in self._in_flight:
            raise ValueError(f"WriteQueue.{what}: {key!r} is not in flight (next() did not hand it out)")
        self._in_flight.remove(key)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __len__(self):
        return len(self._held)

    def __repr__(self):
        return f"WriteQueue({len(self)}/{self.capacity} held, {self.in_flight} in flight)"


class IdempotentReceiver:
    """Do each key's work once; the same key again gets the first result. See the module docstring.

    Counters: ``processed`` (work done), ``duplicates`` (repeats answered from memory).
    """

    def __init__(self):
        self._results = {}
        self.processed = self.duplicates = 0

    def handle(self, key, request, work):
        """``work(request)`` the first time ``key`` is seen, and its result every time."""
        if key is None:
            raise ValueError("IdempotentReceiver.handle: a write needs an idempotency key, got None")
        if key in self._results:
            self.duplicates += 1
            return self._results[key]
        result = work(request)  # if it raises, nothing is stored: the work was not done
        self._results[key] = result
        self.processed += 1
        return result

    def __repr__(self):
        return f"IdempotentReceiver({self.processed} processed, {self.duplicates} duplicates)"
