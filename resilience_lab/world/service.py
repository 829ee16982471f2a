"""A simulated service: instances, each with a pool of workers.

Think of a service as a restaurant kitchen. Each instance is one kitchen with a
fixed number of cooks (its *workers*, a :class:`WorkerPool`). An order (a call)
waits in line for a free cook, the cook works on it for the service's latency,
then, if the dish needs parts from other kitchens, the cook phones them (the
service's ``calls``) and *waits on the phone*, still occupying the stove, until
they answer. That waiting is how a slow dependency eats a caller's workers: the
cascade of lesson 1.

One call to a service, step by step:

1. Pick an instance (round robin). If the service or that instance is down, the
   call fails at once (``fail``) or never returns (``hang``).
2. Wait in that instance's queue for a worker (first come, first served).
   If the call carries a deadline (``ctx.deadline``) that has passed by the
   time a worker picks it up, skip it: its caller has given up.
3. Work: the latency distribution, plus any injected latency and jitter.
4. Fail with the service's error probability, or else call each dependency
   (one after another, or all at once when ``parallel=True``) through the
   caller's policies; a dependency that does not give a usable answer makes
   this call fail too. Past its deadline, a call stops before its dependencies.
5. Release the worker and answer.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from itertools import islice

import simpy

from ..outcomes import USABLE, Outcome
from .faults import FAIL, AddedLatency, ErrorRate, KilledInstance, LostCapacity, Outage

_OK, _ERROR, _TIMEOUT = Outcome.OK, Outcome.ERROR, Outcome.TIMEOUT


class WaitingLine:
    """The calls waiting for a worker, first come, first served.

    SimPy keeps a resource's waiting requests in a list, so a request that leaves
    from the middle of the line costs a scan of the line. Requests do leave that
    way: a crash ends the calls in the queue, and when a run ends, every call
    still queued is torn down, one removal each, which costs the square of the
    queue (40,000 queued calls cost 50 times the CPU of 5,000). Here the line is
    an ordered dictionary: a request joins at the back, leaves from the front
    or from anywhere in constant time, and the order is kept.
    """

    __slots__ = ("_requests",)

    def __init__(self):
        self._requests = OrderedDict()

    def append(self, request) -> None:
        self._requests[request] = None

    def remove(self, request) -> None:
        del self._requests[request]

    def pop(self, index: int = 0):
        if index == 0:
            return self._requests.popitem(last=False)[0]
        request = self[index]
        del self._requests[request]
        return request

    def __getitem__(self, index: int):
        if index == 0 and self._requests:
            return next(iter(self._requests))
        if 0 <= index < len(self._requests):  # SimPy only looks at the front; kept correct anyway
            return next(islice(self._requests, index, None))
        raise IndexError(f"the line holds {len(self._requests)} requests, no number {index}")

    def __len__(self) -> int:
        return len(self._requests)

    def __iter__(self):
        return iter(self._requests)


class WorkerPool(simpy.Resource):
    """A ``simpy.Resource`` whose capacity can shrink and grow while it runs,
    with its waiting calls in a :class:`WaitingLine`.

    Shrinking never interrupts a worker that is busy: the pool simply hands out
    no new worker until the busy count falls below the new capacity.
    """

    PutQueue = WaitingLine

    def resize(self, capacity: int) -> None:
        self._capacity = max(0, int(capacity))
        while self.put_queue and len(self.users) < self._capacity:
            self._trigger_put(None)

    @property
    def busy(self) -> int:
        return len(self.users)


class Instance:
    __slots__ = ("pool", "down")

    def __init__(self, env, workers):
        self.pool = WorkerPool(env, workers)
        self.down = None  # None, "fail" or "hang"


class Service:
    """The running form of one service in one simulation run."""

    def __init__(self, run, spec, index):
        self.run = run
        self.env = run.env
        self.name = spec.name
        self.index = index
        self.spec = spec
        self.rng = run.stream(f"service/{spec.name}")
        self.instances = [Instance(self.env, spec.workers) for _ in range(spec.instances)]
        self._next = 0
        self.latency = spec.latency
        self.calls = spec.calls
        self.parallel = spec.parallel
        self.arrivals = []  # the time of every call that reached this service
        self.chains = {}  # target name -> generator function (ctx) -> Outcome
        self.wasted = 0.0  # seconds of work done for calls already abandoned upstream
        self._active = []
        self._recompute()

    # -- faults ---------------------------------------------------------------
    def begin(self, fault) -> None:
        self._active.append(fault)
        self._recompute()

    def finish(self, fault) -> None:
        self._active.remove(fault)
        self._recompute()

    def _recompute(self) -> None:
        active = self._active
        self.extra_latency = sum(f.seconds for f in active if isinstance(f, AddedLatency))
        self.jitter = sum(f.jitter for f in active if isinstance(f, AddedLatency))
        healthy = 1.0 - self.spec.error_rate
        for f in active:
            if isinstance(f, ErrorRate):
                healthy *= 1.0 - f.rate
        self.error_rate = 1.0 - healthy
        outages = [f.mode for f in active if isinstance(f, Outage)]
        self.outage = outages[-1] if outages else None
        lost = sum(f.workers for f in active if isinstance(f, LostCapacity))
        for number, instance in enumerate(self.instances):
            instance.pool.resize(self.spec.workers - lost)
            kills = [f.mode for f in active if isinstance(f, KilledInstance) and f.instance == number]
            instance.down = kills[-1] if kills else None

    # -- sampling -------------------------------------------------------------
    def occupancy(self):
        """(busy workers, queued calls, capacity) summed over the instances."""
        busy = queued = capacity = 0
        for instance in self.instances:
            busy += len(instance.pool.users)
            queued += len(instance.pool.put_queue)
            capacity += instance.pool.capacity
        return busy, queued, capacity

    # -- one call -------------------------------------------------------------
    def handle(self, ctx):
        """Serve one call (a SimPy generator); returns an :class:`Outcome`."""
        self.arrivals.append(self.env.now)
        instances = self.instances
        instance = instances[self._next]
        self._next = (self._next + 1) % len(instances)
        down = self.outage or instance.down
        if down is not None:
            if down == FAIL:
                return _ERROR
            yield self.run.never  # a black hole: no answer, ever
        env = self.env
        rng = self.rng
        with instance.pool.request() as worker:
            yield worker
            deadline = ctx.deadline
            if deadline is not None and env.now >= deadline:
                return _TIMEOUT  # the caller's deadline passed while this call queued: skip it
            seconds = self.latency.sample(rng)
            if self.extra_latency or self.jitter:
                seconds += self.extra_latency + rng.uniform(-self.jitter, self.jitter)
            yield env.timeout(seconds if seconds > 0.0 else 0.0)
            if ctx.parent is not None and ctx.dropped():
                self.wasted += seconds  # nobody will read this answer
            if self.error_rate and rng.random() < self.error_rate:
                return _ERROR
            if not self.calls:
                return _OK
            if deadline is not None and env.now >= deadline:
                return _TIMEOUT  # stop: do not call dependencies for an abandoned call
            call = self.run.call
            if self.parallel and len(self.calls) > 1:
                calls = [env.process(call(self.name, target, ctx)) for target in self.calls]
                answers = yield env.all_of(calls)
                return _OK if all(o in USABLE for o in answers.values()) else _ERROR
            for target in self.calls:
                if (yield from call(self.name, target, ctx)) not in USABLE:
                    return _ERROR  # one failed dependency fails the call: stop here
            return _OK


def check_whole(owner: str, name: str, value, low: int = 1) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not float(value).is_integer()
        or value < low
    ):
        raise ValueError(f"{owner}: {name} must be a whole number >= {low}, got {value!r}")
    return int(value)
