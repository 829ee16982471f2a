"""The world: services, the load on them, the faults injected, and a run.

A :class:`World` is a *description*. It holds no SimPy state, so you can run it
again (same seed, same numbers), change one thing and run it again, or hand it
to a widget. Each :meth:`World.run` builds a fresh SimPy environment.

>>> world = World(seed=1)
>>> world.service("B", workers=100, latency=LogNormal(0.02))
>>> world.service("A", workers=50, latency=0.001, calls=["B"])
>>> world.load("A", rate=150)                       # Poisson arrivals per second
>>> world.inject_latency("B", 0.48, start=10, end=20)
>>> result = world.run(until=30)

Randomness: every source of randomness in a run (each service, each load, each
closed-loop client, each retrying route) draws from its own ``random.Random``,
seeded from the world's seed and a key that names the source: the service's
name, the load's service, rate and start, the client's group and number, the
route. Adding a service does not change the numbers another one draws. Two
sources whose keys coincide (two identical ``load()`` calls, two ``clients()``
groups on one service) still get streams of their own: the second is seeded
from the key and its rank (``#2``, ``#3``, ...), in the order the world lists
them, so the same world and seed always give the same numbers.

Each run deep-copies the world's policies, so a run starts from fresh objects.
A thread lock inside a policy (a thread-safe breaker or permit counter, as
pybreaker's) is copied as a new, unlocked lock of the same kind; nothing else
about a student's object needs to be copyable.
"""

from __future__ import annotations

import _thread
import copy
import copyreg
import gc
import math
import random
from dataclasses import dataclass

import numpy as np
import simpy

from ..outcomes import Outcome
from . import faults as F
from .latency import as_latency
from .metrics import CLIENT, RunResult
from .policies import adapt
from .request import Request
from .service import Service, check_whole

_UNFINISHED = Outcome.UNFINISHED
_OUTCOMES = frozenset(Outcome)

# A copy of a lock is a new lock (deepcopy otherwise refuses: "cannot pickle '_thread.RLock' object").
copyreg.pickle(_thread.LockType, lambda lock: (_thread.allocate_lock, ()))
copyreg.pickle(_thread.RLock, lambda lock: (_thread.RLock, ()))


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    workers: int
    latency: object
    error_rate: float
    calls: tuple
    instances: int
    parallel: bool
    error_status: object = 503


@dataclass(frozen=True)
class PoissonLoad:
    service: str
    rate: float
    start: float
    end: float


@dataclass(frozen=True)
class ClosedLoop:
    service: str
    count: int
    think_time: float
    start: float
    end: float


def _rate(owner, name, value, *, low_inclusive=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if low_inclusive else value > 0)
    if not ok:
        bound = ">= 0" if low_inclusive else "> 0"
        raise ValueError(f"{owner}: {name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _window(owner, start, end):
    _rate(owner, "start", start, low_inclusive=True)
    if not (isinstance(end, (int, float)) and not isinstance(end, bool) and end > start):
        raise ValueError(f"{owner}: the window must end after it starts, got start={start!r}, end={end!r}")


class World:
    """A small world of simulated services. See the module docstring."""

    def __init__(self, seed: int = 0, *, sample_every: float = 0.1):
        self.seed = seed
        self.sample_every = _rate("World", "sample_every", sample_every)
        self.services: dict[str, ServiceSpec] = {}
        self.policies: dict[tuple[str, str], tuple] = {}
        self.loads: list = []
        self.faults: list[F.Fault] = []

    # -- building -------------------------------------------------------------
    def service(self, name, *, workers=10, latency=0.01, error_rate=0.0, calls=(),
                instances=1, parallel=False, error_status=503):
        """Add a service.

        ``workers``: workers per instance (a pool; calls beyond it queue).
        ``latency``: seconds of its own work per call, or a distribution
        (:mod:`resilience_lab.world.latency`; ``SlowerUnderLoad`` makes the work
        depend on how loaded the instance is).
        ``error_rate``: the probability that a call fails (0 to 1), before faults.
        ``calls``: names of the services each call calls, in order.
        ``instances``: identical instances behind a round-robin balancer.
        ``parallel``: call all of ``calls`` at once (fan-out) instead of in turn.
        ``error_status``: what its errors are, as a retry sees them: 503 (the
        default), 429, 400, 404, ... A service that is down refuses the
        connection instead (``"connection"``).
        """
        if not isinstance(name, str) or not name or name == CLIENT:
            raise ValueError(f"a service needs a name (not {CLIENT!r}), got {name!r}")
        if name in self.services:
            raise ValueError(f"service {name!r} is defined twice")
        owner = f"service {name!r}"
        if isinstance(calls, str):
            calls = (calls,)
        calls = tuple(calls)
        for target in calls:
            if not isinstance(target, str):
                raise ValueError(f"{owner}: calls must be service names, got {target!r}")
        error_rate = _rate(owner, "error_rate", error_rate, low_inclusive=True)
        if error_rate > 1:
            raise ValueError(f"{owner}: error_rate must be between 0 and 1, got {error_rate!r}")
        if isinstance(error_status, bool) or not isinstance(error_status, int) or not 400 <= error_status <= 599:
            raise ValueError(f"{owner}: error_status must be an HTTP error status from 400 to 599 "
                             f"(such as 503, 429, 404), got {error_status!r}")
        self.services[name] = ServiceSpec(
            name=name,
            workers=check_whole(owner, "workers", workers),
            latency=as_latency(latency, f"{owner}: latency"),
            error_rate=error_rate,
            calls=calls,
            instances=check_whole(owner, "instances", instances),
            parallel=bool(parallel),
            error_status=error_status,
        )
        return self

    def protect(self, caller: str, target: str, *policies):
        """Put ``policies`` (outermost first) on every call from ``caller`` to
        ``target``. ``caller`` may be ``"client"`` for the load's own calls."""
        adapted = tuple(adapt(p) for p in policies)
        self.policies[(caller, target)] = adapted
        return self

    def load(self, service, rate, *, start=0.0, end=math.inf):
        """Open-loop load: calls arrive at ``service`` as a Poisson process of
        ``rate`` per second, whether or not earlier calls have finished."""
        owner = f"load on {service!r}"
        _window(owner, start, end)
        self.loads.append(PoissonLoad(service, _rate(owner, "rate", rate), float(start), float(end)))
        return self

    def clients(self, service, count, *, think_time=0.1, start=0.0, end=math.inf):
        """Closed-loop load: ``count`` clients each call ``service``, wait for
        the answer, think for an exponential time of mean ``think_time``, repeat."""
        owner = f"clients of {service!r}"
        _window(owner, start, end)
        self.loads.append(ClosedLoop(
            service, check_whole(owner, "count", count),
            _rate(owner, "think_time", think_time), float(start), float(end),
        ))
        return self

    # -- faults ---------------------------------------------------------------
    def inject(self, fault: F.Fault):
        """Add a fault (see :mod:`resilience_lab.world.faults`)."""
        if not isinstance(fault, F.Fault):
            raise ValueError(f"inject() takes a fault such as Outage(service='B'), got {fault!r}")
        self.faults.append(fault)
        return self

    def inject_latency(self, service, seconds, *, jitter=0.0, start=0.0, end=math.inf):
        """Every call to ``service`` takes ``seconds`` (± ``jitter``) longer."""
        return self.inject(F.AddedLatency(service=service, seconds=seconds, jitter=jitter, start=start, end=end))

    def inject_errors(self, service, rate, *, start=0.0, end=math.inf):
        """Calls to ``service`` fail with probability ``rate``."""
        return self.inject(F.ErrorRate(service=service, rate=rate, start=start, end=end))

    def inject_outage(self, service, *, mode=F.FAIL, start=0.0, end=math.inf):
        """``service`` is down: calls fail at once (``"fail"``) or hang (``"hang"``).
        The calls it holds when it goes down end with the connection error
        (``"fail"``) or get no answer while it lasts (``"hang"``)."""
        return self.inject(F.Outage(service=service, mode=mode, start=start, end=end))

    def remove_capacity(self, service, workers, *, start=0.0, end=math.inf):
        """Each instance of ``service`` loses ``workers`` workers."""
        return self.inject(F.LostCapacity(service=service, workers=workers, start=start, end=end))

    def kill_instance(self, service, instance=0, *, mode=F.FAIL, start=0.0, end=math.inf):
        """One instance of ``service`` dies; calls routed to it fail or hang, and
        the calls it held are lost (a connection error, or no answer ever)."""
        return self.inject(F.KilledInstance(service=service, instance=instance, mode=mode, start=start, end=end))

    # -- running --------------------------------------------------------------
    def check(self) -> None:
        """Raise ``ValueError`` if a name is unknown, a service calls itself in
        a loop, or a fault asks for more than the service has."""
        known = self.services
        listing = ", ".join(known) or "(none yet)"

        def need(name, where):
            if name not in known:
                raise ValueError(f"unknown service {name!r} in {where}; known services: {listing}")

        for spec in known.values():
            for target in spec.calls:
                need(target, f"the calls of {spec.name!r}")
        for caller, target in self.policies:
            if caller != CLIENT:
                need(caller, "protect()")
            need(target, "protect()")
        for load in self.loads:
            need(load.service, "the load")
        for fault in self.faults:
            need(fault.service, fault.label)
            spec = known[fault.service]
            if isinstance(fault, F.KilledInstance) and fault.instance >= spec.instances:
                raise ValueError(
                    f"{fault.label}: instance must be below {spec.instances} "
                    f"(service {spec.name!r} has {spec.instances}), got {fault.instance}"
                )
            if isinstance(fault, F.LostCapacity) and fault.workers > spec.workers:
                raise ValueError(
                    f"{fault.label}: cannot remove {fault.workers} workers, "
                    f"service {spec.name!r} has {spec.workers}"
                )
        self._check_no_cycle()

    def _check_no_cycle(self):
        state = {}

        def visit(name, path):
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                raise ValueError(f"services call each other in a loop: {' -> '.join(path + [name])}")
            state[name] = "visiting"
            for target in self.services[name].calls:
                visit(target, path + [name])
            state[name] = "done"

        for name in self.services:
            visit(name, [])

    def run(self, until: float) -> RunResult:
        """Simulate ``until`` seconds and return what was measured."""
        _rate("run", "until", until)
        self.check()
        return _Run(self).execute(float(until))


class _Run:
    """One simulation of a world: the SimPy environment and the recorders."""

    def __init__(self, world: World):
        self.world = world
        self.seed = world.seed
        self.env = simpy.Environment()
        self.never = self.env.event()  # never triggered: what a hung call waits on
        self.records = []
        self.open = {}
        self.events = []  # (time, where, what, detail): e.g. a breaker's state changes
        self._key = 0
        self._seeds = set()
        names = list(world.services)
        self.index = {name: i for i, name in enumerate(names)}
        self.index[CLIENT] = len(names)
        self.services = {name: Service(self, spec, i) for i, (name, spec) in enumerate(world.services.items())}
        memo = {}
        for caller in [CLIENT, *names]:
            targets = self.services[caller].calls if caller != CLIENT else {l.service for l in world.loads}
            chains = {}
            for target in targets:
                chain = self.services[target].handle
                # One memo for the whole run: a policy object protecting several
                # routes (a shared bulkhead) stays one object within the run.
                for policy in reversed(copy.deepcopy(world.policies.get((caller, target), ()), memo)):
                    chain = policy.wrap(self, caller, target, chain)
                chains[target] = chain
            if caller == CLIENT:
                self.client_chains = chains
            else:
                self.services[caller].chains = chains

    def stream(self, key: str) -> random.Random:
        """A ``random.Random`` of its own for one source of randomness, seeded
        from the run's seed and ``key``; a key asked for again gets the next
        rank (``key#2``, ...), so no two sources ever share a stream."""
        seed, rank = f"{self.seed}/{key}", 1
        while seed in self._seeds:
            rank += 1
            seed = f"{self.seed}/{key}#{rank}"
        self._seeds.add(seed)
        return random.Random(seed)

    def call(self, caller: str, target: str, ctx):
        """One call from ``caller`` to ``target`` through the caller's policies;
        records it and returns its outcome (a SimPy generator)."""
        env = self.env
        chains = self.client_chains if caller == CLIENT else self.services[caller].chains
        key = self._key = self._key + 1
        start = env.now
        row = (self.index[target], self.index[caller], start)
        self.open[key] = row
        outcome = yield from chains[target](ctx)
        if outcome not in _OUTCOMES:
            raise ValueError(f"a call from {caller} to {target} ended with {outcome!r}, not an Outcome: every "
                             "policy and call path must return the call's Outcome (Outcome.OK, Outcome.ERROR, ...)")
        del self.open[key]
        self.records.append((*row, env.now, outcome))
        return outcome

    # -- load -----------------------------------------------------------------
    def _poisson(self, load: PoissonLoad, rng: random.Random):
        env = self.env
        if load.start:
            yield env.timeout(load.start)
        mean_gap = 1.0 / load.rate
        process, call = env.process, self.call
        while True:
            yield env.timeout(rng.expovariate(1.0) * mean_gap)
            if env.now >= load.end:
                return
            process(call(CLIENT, load.service, Request()))

    def _client(self, load: ClosedLoop, rng: random.Random):
        env = self.env
        yield env.timeout(load.start + rng.expovariate(1.0 / load.think_time))
        while env.now < load.end:
            yield from self.call(CLIENT, load.service, Request())
            yield env.timeout(rng.expovariate(1.0 / load.think_time))

    def _fault(self, fault: F.Fault):
        service = self.services[fault.service]
        yield self.env.timeout(fault.start)
        service.begin(fault)
        if fault.end < math.inf:
            yield self.env.timeout(fault.end - fault.start)
            service.finish(fault)

    def _sampler(self, times, samples):
        env, services, every = self.env, list(self.services.values()), self.world.sample_every
        while True:
            times.append(env.now)
            samples.append([s.occupancy() for s in services])
            yield env.timeout(every)

    def execute(self, until: float) -> RunResult:
        env = self.env
        for fault in self.world.faults:
            if fault.start < until:
                env.process(self._fault(fault))
        for load in self.world.loads:
            if isinstance(load, PoissonLoad):
                env.process(self._poisson(load, self.stream(f"load/{load.service}/{load.rate}/{load.start}")))
            else:
                for number in range(load.count):
                    env.process(self._client(load, self.stream(f"client/{load.service}/{number}")))
        times, samples = [], []
        env.process(self._sampler(times, samples))
        # Python's cycle collector would walk every record kept so far, again and
        # again, as a long run piles them up (benchmarks/engine.py: about 8% of a
        # 100,000-call run). Reference counting still frees everything a call
        # leaves behind; the collector resumes when the run ends.
        collecting = gc.isenabled()
        gc.disable()
        try:
            env.run(until=until)
        finally:
            if collecting:
                gc.enable()
        records = self.records
        for row in self.open.values():
            records.append((*row, until, _UNFINISHED))
        for service in self.services.values():
            service.visits += service.still_inside(until)
        result = RunResult(
            services=list(self.services),
            records=records,
            sample_times=times,
            samples=samples,
            faults=self.world.faults,
            until=until,
            seed=self.seed,
            # A copy: tearing the run down later closes the calls still inside, which log visits again.
            visits={name: list(s.visits) for name, s in self.services.items()},
        )
        result.events = self.events
        # Seconds of work each service did in all, and of it for calls someone had already abandoned.
        result.work = {name: math.fsum(v[2] for v in s.visits) for name, s in self.services.items()}
        result.wasted = {name: math.fsum(v[3] for v in s.visits) for name, s in self.services.items()}
        # Every attempt that reached each service (retries included), by arrival time.
        result.arrivals = {name: np.asarray(s.arrivals) for name, s in self.services.items()}
        return result
