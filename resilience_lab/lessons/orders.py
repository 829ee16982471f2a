"""Lesson 6, the write path: orders queued for later while payments is down, then drained.

The world, in SimPy (:func:`order_run`):

- **clients** place orders at 10 a second, each with its own idempotency key
  (``order-17``) and a request ``(customer, amount)``; many orders share a
  customer and an amount, as real ones do. One order in ten is sent twice, 1 to
  3 s apart (a double click, or a client that retried after a timeout): the same
  key both times.
- the **checkout** keeps each order in a queue for later
  (:class:`~resilience_lab.patterns.write_queue.WriteQueue`, or anything with its
  ``accept``, ``next``, ``done`` and ``failed``): accepted, the client hears
  ``202 Accepted``; refused (full), ``503``, and the client knows the order was
  not taken.
- a **drainer** sends the queued orders to payments, oldest first. After a
  failed send it pauses 1 s and sends one order at a time until one succeeds.
  Throttled (``drain_rate``, 50 per second by default) it spaces its sends;
  unthrottled (``drain_rate=None``) it sends everything waiting at once, up to
  1,000 in flight. It waits up to 5 s for an answer.
- **payments** has 4 workers taking 20 ms per charge (capacity 200 charges a
  second) and also serves 20 live calls a second from other callers, who give
  up after 0.5 s. A charge goes through the payment service's receiver
  (:class:`~resilience_lab.patterns.write_queue.IdempotentReceiver`, or anything
  with its ``handle(key, request, work)``). Payments is down during
  ``outage`` (calls are refused) and, by default, **fails again** for 2 s, 2 s
  after it came back: calls arriving then are refused, and a charge that was
  under way when it went down is done but its answer is lost.

Measured (:class:`OrderRun`): the orders accepted and refused, the charges of
each key (lost: accepted and never charged; twice: charged two times or more),
how long the backlog took to drain after the outage, the calls per second
reaching payments, and the live calls that failed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..figures.run import COLOURS, FAULT_COLOUR
from ..figures.table import Table
from ..patterns.write_queue import IdempotentReceiver, WriteQueue

ORDER_RATE = 10.0
LIVE_RATE = 20.0
PAYMENT_WORKERS = 4
PAYMENT_SECONDS = 0.020
CAPACITY_PER_SECOND = PAYMENT_WORKERS / PAYMENT_SECONDS
SEND_TIMEOUT = 5.0
LIVE_TIMEOUT = 0.5
RETRY_PAUSE = 1.0
POLL = 0.05
DRAIN_RATE = 50.0
MAX_IN_FLIGHT = 1000
#: Payments fails again FLAP[1] seconds long, FLAP[0] seconds after it came back.
FLAP = (2.0, 2.0)
DOUBLE_SUBMIT = 0.1
CUSTOMERS, AMOUNTS = 50, (9.99, 19.99, 49.0)
OUTAGE = (30.0, 90.0)
UNTIL = 150.0
#: Seconds simulated after the last order, so that what was accepted can drain before it is counted.
TAIL = 30.0
REFUSED, LOST = "refused", "lost"


class NoKeys:
    """A payment service without idempotency keys: it charges every request it gets."""

    def handle(self, key, request, work):
        return work(request)


class DroppingQueue(WriteQueue):
    """A queue that says yes when it is full, and drops the write: the mistake to avoid."""

    def accept(self, now, key, request):
        if len(self) >= self.capacity and key not in self._held:
            return True  # 202 Accepted, and nothing kept
        return super().accept(now, key, request)


def _in_order(key):
    """order-9 before order-10."""
    return (len(str(key)), str(key))


@dataclass
class OrderRun:
    """What one run of :func:`order_run` measured. See the module docstring."""

    until: float  # orders and live calls arrive until then; the run goes on TAIL seconds more
    outage: tuple
    down: list  # the windows payments was down: the outage, and the flap
    submissions: int = 0
    accepted_at: dict = field(default_factory=dict)  # key -> the first time it was accepted
    refused: set = field(default_factory=set)  # keys refused every time they were sent
    charges: Counter = field(default_factory=Counter)  # key -> times charged
    confirmed_at: dict = field(default_factory=dict)  # key -> when the queue heard it was done
    sends: int = 0  # the drainer's sends, resends included
    arrivals: list = field(default_factory=list)  # every call reaching payments, by time
    live: list = field(default_factory=list)  # (start, ok) of each live call
    backlog: tuple = (np.empty(0), np.empty(0))  # (times, writes held)

    @property
    def lost(self) -> list:
        """Keys accepted (202) and never charged."""
        return sorted((k for k in self.accepted_at if self.charges[k] == 0), key=_in_order)

    @property
    def twice(self) -> list:
        """Keys charged more than once."""
        return sorted((k for k, n in self.charges.items() if n > 1), key=_in_order)

    @property
    def charged_after_refusal(self) -> list:
        """Keys the client was told were refused (503), charged all the same."""
        return sorted((k for k in self.refused if self.charges[k] > 0), key=_in_order)

    @property
    def drain_time(self) -> float:
        """Seconds from the end of the outage until every order accepted before it was
        confirmed (0 without an outage; ``inf`` if some never were)."""
        start, end = self.outage
        waiting = [k for k, t in self.accepted_at.items() if t < end]
        if end <= start or not waiting:
            return 0.0
        return max(self.confirmed_at.get(k, math.inf) for k in waiting) - end

    def load(self, bucket=1.0):
        """(bucket starts, calls per second reaching payments)."""
        n = max(1, int(math.ceil(self.until / bucket)))
        times = np.asarray(self.arrivals)
        times = times[times < self.until]
        counts = np.bincount(np.minimum((times // bucket).astype(int), n - 1), minlength=n) if times.size else \
            np.zeros(n)
        return np.arange(n) * bucket, counts / bucket

    def live_failed(self, since=None, until=None) -> int:
        """Live calls started in ``[since, until)`` (default: from the end of the outage on) that
        failed while payments was up: the harm done by the load, not by the outage."""
        since = self.outage[1] if since is None else since
        until = self.until if until is None else until
        return sum(1 for start, ok in self.live if since <= start < until and not ok
                   and not any(a <= start < b for a, b in self.down))


def order_run(queue=None, receiver=None, *, capacity=1000, outage=OUTAGE, flap=FLAP, drain_rate=DRAIN_RATE,
              double_submit=DOUBLE_SUBMIT, rate=ORDER_RATE, live_rate=LIVE_RATE, until=UNTIL,
              seed=7) -> OrderRun:
    """Simulate the orders for ``until`` seconds (see the module docstring).

    ``queue``: the checkout's queue (default ``WriteQueue(capacity)``); ``receiver``:
    the payment service's (default an :class:`IdempotentReceiver`; :class:`NoKeys`
    charges every request). ``flap``: ``(after, seconds)`` of the second failure, or ``None``.
    """
    start, end = outage
    if not (0 <= start <= end):
        raise ValueError(f"outage must be (start, end) with 0 <= start <= end, got {outage!r}")
    for name, value, low in (("rate", rate, 0.0), ("until", until, 0.0), ("live_rate", live_rate, None)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value < math.inf
        if not ok or not (value > low if low is not None else value >= 0):
            raise ValueError(f"{name} must be a number {'> 0' if low is not None else '>= 0'}, got {value!r}")
    if not (isinstance(double_submit, (int, float)) and 0 <= double_submit <= 1):
        raise ValueError(f"double_submit must be a share between 0 and 1, got {double_submit!r}")
    if drain_rate is not None and not drain_rate > 0:
        raise ValueError(f"drain_rate must be a number of sends per second > 0, or None (unthrottled), got "
                         f"{drain_rate!r}")
    queue = WriteQueue(capacity) if queue is None else queue
    receiver = IdempotentReceiver() if receiver is None else receiver
    down = [(float(start), float(end))] if end > start else []
    if flap and down:
        down.append((end + flap[0], end + flap[0] + flap[1]))
    run = OrderRun(float(until), (float(start), float(end)), down)
    env = simpy.Environment()
    workers = simpy.Resource(env, PAYMENT_WORKERS)
    drain = {"healthy": True, "paused_until": 0.0, "in_flight": 0}
    receipts = Counter()

    def is_down(t):
        return any(a <= t < b for a, b in down)

    def charge_for(key):
        def charge(request):
            run.charges[key] += 1
            receipts["n"] += 1
            return f"receipt-{receipts['n']}"
        return charge

    def payments(key, request):
        arrived = env.now
        run.arrivals.append(arrived)
        if is_down(arrived):
            return REFUSED
        with workers.request() as worker:
            yield worker
            yield env.timeout(PAYMENT_SECONDS)
        result = receiver.handle(key, request, charge_for(key))
        if any(a <= env.now and b > arrived for a, b in down):
            return LOST  # it went down while the charge was under way: done, but nobody heard
        return ("ok", result)

    def call(key, request, timeout):
        answer = env.process(payments(key, request))
        yield answer | env.timeout(timeout)
        return answer.value if answer.triggered else "timeout"

    def send(key, request):
        run.sends += 1
        answer = yield from call(key, request, SEND_TIMEOUT)
        drain["in_flight"] -= 1
        if isinstance(answer, tuple):
            queue.done(env.now, key)
            run.confirmed_at[key] = env.now
            drain["healthy"] = True
        else:
            queue.failed(env.now, key)
            drain["healthy"] = False
            drain["paused_until"] = env.now + RETRY_PAUSE

    def drainer():
        while True:
            if drain["paused_until"] > env.now:
                yield env.timeout(drain["paused_until"] - env.now)
                continue
            limit = MAX_IN_FLIGHT if drain["healthy"] else 1
            item = queue.next(env.now) if drain["in_flight"] < limit else None
            if item is None:
                yield env.timeout(POLL)
                continue
            key, request = item
            drain["in_flight"] += 1
            env.process(send(key, request))
            if drain_rate is not None:
                yield env.timeout(1.0 / drain_rate)

    def submit(key, request):
        run.submissions += 1
        if queue.accept(env.now, key, request):
            run.accepted_at.setdefault(key, env.now)
            run.refused.discard(key)
        elif key not in run.accepted_at:
            run.refused.add(key)

    def later(delay, key, request):
        yield env.timeout(delay)
        submit(key, request)

    def clients():
        rng = random.Random(f"orders/{seed}")
        number = 0
        while True:
            yield env.timeout(rng.expovariate(rate))
            if env.now >= until:
                return
            number += 1
            key, request = f"order-{number}", (f"customer-{rng.randrange(CUSTOMERS)}", rng.choice(AMOUNTS))
            again, delay = rng.random() < double_submit, rng.uniform(1.0, 3.0)
            submit(key, request)
            if again:
                env.process(later(delay, key, request))

    def live_call(number):
        began = env.now
        answer = yield from call(f"live-{number}", ("live", number), LIVE_TIMEOUT)
        run.live.append((began, isinstance(answer, tuple)))

    def live():
        rng = random.Random(f"orders/{seed}/live")
        number = 0
        while True:
            yield env.timeout(rng.expovariate(live_rate))
            if env.now >= until:
                return
            number += 1
            env.process(live_call(number))

    times, held = [], []

    def sampler():
        while True:
            times.append(env.now)
            try:
                held.append(len(queue))
            except TypeError:
                held.append(math.nan)
            yield env.timeout(0.5)

    env.process(clients())
    env.process(drainer())
    if live_rate:
        env.process(live())
    env.process(sampler())
    env.run(until=until + TAIL)  # no new calls after `until`: what was accepted has time to drain
    run.backlog = (np.array(times), np.array(held, dtype=float))
    return run


# -- measurements and figures ----------------------------------------------------------
def order_report(runs: dict) -> dict:
    """Per run: orders accepted and refused, lost, charged twice, the drain time, the peak
    calls per second reaching payments in the 30 s after the outage, live calls failed then."""
    rows = Table()
    for name, run in runs.items():
        t, per_second = run.load()
        after = (t >= run.outage[1]) & (t < run.outage[1] + 30)
        drain = run.drain_time
        rows[name] = {
            "accepted": len(run.accepted_at), "refused (503)": len(run.refused), "lost": len(run.lost),
            "charged twice": len(run.twice),
            "drain (s)": "never" if math.isinf(drain) else round(drain, 1),
            "peak calls/s at payments": int(per_second[after].max()) if after.any() else 0,
            "live calls failed (payments up)": run.live_failed(run.outage[1], run.outage[1] + 30),
        }
    return rows


def plot_orders(runs: dict):
    """For each run, the orders waiting in the queue and the calls per second reaching payments
    (its capacity dotted), the outage shaded."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 2.1 * len(runs) + 0.4), dpi=80, layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(runs), 1, sharex=True))
    for ax, (name, run) in zip(axes, runs.items()):
        t, held = run.backlog
        ax.plot(t, held, color=COLOURS[0], lw=2)
        ax.set_ylabel("orders queued", color=COLOURS[0])
        load = ax.twinx()
        t, per_second = run.load()
        load.plot(t, per_second, color=COLOURS[1], lw=1)
        load.axhline(CAPACITY_PER_SECOND, color=COLOURS[1], ls=":", lw=1)
        load.set_ylabel("calls / s at payments", color=COLOURS[1])
        load.set_ylim(0, max(CAPACITY_PER_SECOND, float(per_second.max())) * 1.1)
        for a, b in run.down:
            ax.axvspan(a, b, color=FAULT_COLOUR, alpha=0.25, lw=0)
        row = order_report({name: run})[name]
        ax.set_title(f"{name}: drained in {row['drain (s)']} s, peak {row['peak calls/s at payments']} calls/s "
                     f"at payments, {row['live calls failed (payments up)']} live calls failed while it was up", fontsize=9, loc="left")
        ax.set_xlim(0, run.until)
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("simulated time (s)   (shaded: payments down; dotted: its capacity)")
    return fig
