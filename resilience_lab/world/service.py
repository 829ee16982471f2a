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
   call fails at once with a refused connection (``fail``) or never returns
   (``hang``: a black hole).
2. Wait in that instance's queue for a worker (first come, first served).
   If the call carries a deadline (``ctx.deadline``) that has passed by the
   time a worker picks it up, skip it: its caller has given up.
3. Work: the latency distribution (a load-dependent one sees the instance's
   :class:`~resilience_lab.world.latency.Load` now), plus any injected latency
   and jitter.
4. Fail with the service's error probability, or else call each dependency
   (one after another, or all at once when ``parallel=True``) through the
   caller's policies; a dependency that does not give a usable answer makes
   this call fail too. Past its deadline, a call stops before its dependencies.
5. Release the worker and answer.

Faults also reach the calls an instance already holds (queued, at work, or
waiting on a dependency):

- the service goes down in ``fail`` mode, or the instance is killed in
  ``fail`` mode: every call it holds ends at once with the connection error,
  and its workers and queue are empty (it restarts empty);
- the instance is killed in ``hang`` mode: it loses every call it holds; their
  callers never get an answer;
- the service goes down in ``hang`` mode: it goes on working, but no answer
  leaves it while the outage lasts: a call that would answer during the outage
  never gets its answer; one that answers after it is served late or on time;
- latency injected while a call is at work (step 3) lengthens that call by the
  added seconds (and a jitter drawn for it) from that moment; a call whose work
  is already done is not slowed.

A service that can be crashed (``fail`` outage or killed instance) in a run
sends its calls to dependencies as SimPy processes of their own, so that the
crash can end the call while it waits; other services call them inline.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from itertools import islice

import simpy

from ..outcomes import USABLE, Outcome
from .faults import FAIL, HANG, AddedLatency, ErrorRate, KilledInstance, LostCapacity, Outage
from .latency import Load

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

    def _trigger_put(self, get_event) -> None:
        # SimPy's loop over the waiting requests, for a pool: while a worker is
        # free, the first in line gets it (the same rule, without the generic
        # indexing, which costs a method call per look at the line).
        line, users = self.put_queue._requests, self.users
        while line and len(users) < self._capacity:
            request = line.popitem(last=False)[0]
            users.append(request)
            request.usage_since = self._env.now
            request.succeed()

    def resize(self, capacity: int) -> None:
        self._capacity = max(0, int(capacity))
        self._trigger_put(None)

    @property
    def busy(self) -> int:
        return len(self.users)


class Instance:
    """One instance of a service: its pool, whether it is down, and the calls it holds."""

    __slots__ = ("pool", "down", "held")

    def __init__(self, env, workers):
        self.pool = WorkerPool(env, workers)
        self.down = None  # None, "fail" or "hang"
        self.held = {}  # the calls it holds (queued, working or waiting on a dependency), oldest first


class _Held:
    """A call an instance holds: the SimPy process it runs in, and whether its
    worker is doing the service's own work on it right now."""

    __slots__ = ("process", "request", "arrived", "working", "began", "worked")

    def __init__(self, process, request, arrived):
        self.process = process
        self.request = request
        self.arrived = arrived
        self.working = False
        self.began = arrived  # when its work began
        self.worked = 0.0  # seconds of the service's own work done on it, once done or cut short


class _Crash:
    """Why a held call is interrupted: its instance went down (``mode`` fail or hang)."""

    __slots__ = ("mode",)

    def __init__(self, mode):
        self.mode = mode


class _Slower:
    """Why a call at work is interrupted: latency was injected; it works ``seconds`` longer."""

    __slots__ = ("seconds",)

    def __init__(self, seconds):
        self.seconds = seconds


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
        self.load_dependent = callable(getattr(spec.latency, "sample_under", None))
        self.calls = spec.calls
        self.parallel = spec.parallel
        # A service that can go down mid-call runs its calls to dependencies as
        # processes of their own, so that a crash can end the call at once.
        self.crashable = any(
            f.service == spec.name and (isinstance(f, KilledInstance) or (isinstance(f, Outage) and f.mode == FAIL))
            for f in run.world.faults
        )
        self.arrivals = []  # the time of every call that reached this service
        self.chains = {}  # target name -> generator function (ctx) -> Outcome
        self.visits = []  # (arrived, left, seconds worked, seconds wasted) of every call it held
        self._active = []
        self._recompute()

    # -- faults ---------------------------------------------------------------
    def begin(self, fault) -> None:
        self._active.append(fault)
        self._recompute()
        if isinstance(fault, AddedLatency):
            self._slow_down(fault)
        elif isinstance(fault, Outage) and fault.mode == FAIL:
            for instance in self.instances:
                self._crash(instance, FAIL)
        elif isinstance(fault, KilledInstance):
            self._crash(self.instances[fault.instance], fault.mode)

    def finish(self, fault) -> None:
        self._active.remove(fault)
        self._recompute()

    def _crash(self, instance, mode) -> None:
        """The instance loses every call it holds: each ends with a connection
        error (``fail``) or never answers (``hang``); their workers are free."""
        held, instance.held = instance.held, {}
        for call in held:
            call.process.interrupt(_Crash(mode))

    def _slow_down(self, fault) -> None:
        """Calls at work when latency is injected take ``fault.seconds`` (± jitter) longer from now."""
        for instance in self.instances:
            for call in instance.held:
                if call.working:
                    jitter = self.rng.uniform(-fault.jitter, fault.jitter) if fault.jitter else 0.0
                    call.process.interrupt(_Slower(fault.seconds + jitter))

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
        env = self.env
        arrived = env.now
        self.arrivals.append(arrived)
        instances = self.instances
        instance = instances[self._next]
        self._next = (self._next + 1) % len(instances)
        down = self.outage or instance.down
        if down is not None:
            if down == FAIL:
                ctx.refused_by = self.name  # a refused connection, as a retry sees it
                return _ERROR
            yield self.run.never  # a black hole: no answer, ever
        call = _Held(env.active_process, ctx, arrived)
        instance.held[call] = None
        lost = False
        try:
            with instance.pool.request() as worker:
                yield worker
                deadline = ctx.deadline
                if deadline is not None and env.now >= deadline:
                    outcome = _TIMEOUT  # the caller's deadline passed while this call queued: skip it
                else:
                    rng = self.rng
                    if self.load_dependent:
                        seconds = self.latency.sample_under(rng, self._load(instance))
                    else:
                        seconds = self.latency.sample(rng)
                    if self.extra_latency or self.jitter:
                        seconds += self.extra_latency + rng.uniform(-self.jitter, self.jitter)
                    began = call.began = env.now
                    done = began + (seconds if seconds > 0.0 else 0.0)
                    call.working = True
                    while True:
                        try:
                            yield env.timeout(done - began)
                            break
                        except simpy.Interrupt as interrupt:
                            if not isinstance(interrupt.cause, _Slower):
                                raise  # a crash: see below
                            began = env.now  # latency injected while it works: the rest takes longer
                            done = max(began, done + interrupt.cause.seconds)
                    call.working = False
                    call.worked = env.now - call.began
                    if self.error_rate and rng.random() < self.error_rate:
                        outcome = _ERROR
                    elif not self.calls:
                        outcome = _OK
                    elif deadline is not None and env.now >= deadline:
                        outcome = _TIMEOUT  # stop: do not call dependencies for an abandoned call
                    else:
                        outcome = yield from self._call_dependencies(ctx)
        except simpy.Interrupt as crash:  # the instance went down while it held this call
            if not isinstance(crash.cause, _Crash):
                raise
            outcome, lost = _ERROR, crash.cause.mode != FAIL
            if not lost:
                ctx.refused_by = self.name  # the connection was reset
        finally:
            instance.held.pop(call, None)
            self.visits.append(self._visit(call, env.now))
        if lost or self.outage == HANG:
            yield self.run.never  # it died in "hang" mode, or it hangs: this answer never leaves
        return outcome

    def _call_dependencies(self, ctx):
        """Step 4: call each dependency through this service's policies; the call's Outcome."""
        env, send = self.env, self.run.call
        if self.parallel and len(self.calls) > 1:
            calls = [env.process(send(self.name, target, ctx)) for target in self.calls]
            answers = yield env.all_of(calls)
            return _OK if all(o in USABLE for o in answers.values()) else _ERROR
        for target in self.calls:
            if self.crashable:  # in a process of its own, so that a crash can end this call at once
                answer = yield env.process(send(self.name, target, ctx))
            else:
                answer = yield from send(self.name, target, ctx)
            if answer not in USABLE:
                return _ERROR  # one failed dependency fails the call: stop here
        return _OK

    @staticmethod
    def _visit(call, now):
        """``(arrived, left, worked, wasted)`` of a call leaving (or still inside) at ``now``.
        Its work is wasted if its caller, or a caller above, has given up on it."""
        worked = now - call.began if call.working else call.worked
        request = call.request
        wasted = worked if request.parent is not None and request.dropped() else 0.0
        return (call.arrived, now, worked, wasted)

    def still_inside(self, now):
        """Visits, as far as they went, of the calls the service holds at ``now`` (the end of a run)."""
        return [self._visit(call, now) for instance in self.instances for call in instance.held]

    def _load(self, instance):
        pool = instance.pool
        return Load(busy=len(pool.users), queued=len(pool.put_queue), workers=pool.capacity)


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
