"""What a run measured, as numpy arrays, and the summaries lessons plot.

A run keeps three kinds of data:

- **calls**, the *caller's view*: one record per call, written by the caller
  when the answer (or a timeout, a rejection, ...) comes back: which service was
  called, by whom (``"client"`` for the load), when it started and ended, and
  its :class:`~resilience_lab.outcomes.Outcome`. Calls still in flight when the
  run ends are recorded as ``unfinished`` with ``end`` = the end of the run.
  After a timeout the record ends when the caller gives up, though the callee
  may go on working on the call for much longer; a retried request is one record
  however many attempts it took.
- **visits**, the *callee's view*: for each service, every call it took in
  (retries included; not the ones it refused or lost at the door): when it
  arrived, when it left (its worker released, or its place in the queue given
  up), the seconds of its own work the service did on it, and how much of that
  was wasted, done for a caller that had given up by the time the call left.
- **samples**: every ``sample_every`` seconds, for each service, how many
  workers are busy, how many calls wait in its queue, and its capacity.

:meth:`RunResult.summary` cuts one service's calls into time buckets (by the
time each call *ended*) and gives, per bucket: throughput (calls finished per
second, *failures included*), goodput (``ok`` calls per second), error rate
(share of finished calls that were not ``ok``), and the p50, p95 and p99 latency
in seconds (numpy's linear-interpolation percentiles; ``nan`` where a bucket has
no call). Throughput is not goodput: a service that fails every call at once
has a high throughput. :meth:`RunResult.callee` gives the callee's view per
bucket: attempts that reached the service, its work and its wasted work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..outcomes import Outcome

CLIENT = "client"


@dataclass
class Summary:
    """Per-bucket figures for one service, as its callers saw the calls; every
    array has one entry per bucket."""

    service: str
    bucket: float
    time: np.ndarray  # start of each bucket
    started: np.ndarray  # calls started per second (offered load; a retried request counts once)
    throughput: np.ndarray  # calls finished per second, whatever their outcome: NOT goodput
    goodput: np.ndarray  # calls that ended ok per second
    error_rate: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray


@dataclass
class CalleeSummary:
    """Per-bucket figures for one service, as the service itself saw its calls
    (see :meth:`RunResult.callee`); every array has one entry per bucket."""

    service: str
    bucket: float
    time: np.ndarray  # start of each bucket
    arrivals: np.ndarray  # attempts that reached the service per second (retries, refused and lost ones included)
    work: np.ndarray  # seconds of its own work done per second: the workers it kept at work, on average
    wasted: np.ndarray  # of which for calls whose caller had given up


class RunResult:
    """The measurements of one run of a :class:`~resilience_lab.world.World`.

    ``records`` are the caller's view of each call, ``visits`` the callee's
    (``{service: array of (arrived, left, worked, wasted)}``); see the module
    docstring. The world also sets ``arrivals`` (``{service: array of the times
    every attempt reached it}``), ``work`` and ``wasted`` (``{service: seconds}``
    of its own work in all, and of it for callers that had given up) and
    ``events`` (such as a breaker's state changes).
    """

    def __init__(self, *, services, records, sample_times, samples, faults, until, seed, visits=None):
        self.services = list(services)
        self.until = float(until)
        self.seed = seed
        self.faults = list(faults)
        names = self.services + [CLIENT]
        self._index = {name: i for i, name in enumerate(names)}
        table = np.array(records, dtype=float).reshape(-1, 5)
        self.service = table[:, 0].astype(np.int16)
        self.caller = table[:, 1].astype(np.int16)
        self.start = table[:, 2]
        self.end = table[:, 3]
        self.outcome = table[:, 4].astype(np.int8)
        self.latency = self.end - self.start
        self.sample_times = np.asarray(sample_times, dtype=float)
        data = np.array(samples, dtype=float).reshape(len(self.sample_times), len(self.services), 3)
        self.busy = data[:, :, 0]
        self.queued = data[:, :, 1]
        self.capacity = data[:, :, 2]
        self._visits = visits or {}
        self._visit_arrays = None

    @property
    def visits(self) -> dict:
        """``{service: array of (arrived, left, worked, wasted)}``, one row per call
        the service took in (made into arrays when first asked for)."""
        if self._visit_arrays is None:
            self._visit_arrays = {name: np.array(self._visits.get(name, ()), dtype=float).reshape(-1, 4)
                                  for name in self.services}
        return self._visit_arrays

    # -- selecting ------------------------------------------------------------
    def index_of(self, service: str) -> int:
        try:
            return self._index[service]
        except KeyError:
            known = ", ".join(self.services)
            raise ValueError(f"unknown service {service!r}; this run has: {known}") from None

    def calls_to(self, service: str, caller: str | None = None) -> np.ndarray:
        """A boolean mask of the calls made to ``service`` (by ``caller``, if given)."""
        mask = self.service == self.index_of(service)
        if caller is not None:
            mask &= self.caller == self.index_of(caller)
        return mask

    def count(self, service: str, outcome: Outcome, *, since=0.0, until=None) -> int:
        """How many calls to ``service`` that ended in ``[since, until)`` had ``outcome``."""
        until = self.until if until is None else until
        mask = self.calls_to(service) & (self.outcome == int(outcome))
        return int(np.count_nonzero(mask & (self.end >= since) & (self.end < until)))

    def in_flight_at_end(self, service: str) -> int:
        """Calls to ``service`` that had not finished when the run ended."""
        return self.count(service, Outcome.UNFINISHED, until=np.inf)

    def pool(self, service: str):
        """(sample times, busy workers, queued calls, capacity) for ``service``."""
        i = self.index_of(service)
        return self.sample_times, self.busy[:, i], self.queued[:, i], self.capacity[:, i]

    # -- summaries ------------------------------------------------------------
    def summary(self, service: str, bucket: float = 1.0, caller: str | None = None) -> Summary:
        """Throughput, goodput, error rate and latency percentiles per bucket."""
        if not bucket > 0:
            raise ValueError(f"bucket must be a number of seconds > 0, got {bucket!r}")
        n = max(1, int(np.ceil(self.until / bucket - 1e-9)))
        mask = self.calls_to(service, caller)
        started = np.bincount(
            np.minimum((self.start[mask] // bucket).astype(int), n - 1), minlength=n
        )
        done = mask & (self.outcome != Outcome.UNFINISHED)
        slot = np.minimum((self.end[done] // bucket).astype(int), n - 1)
        finished = np.bincount(slot, minlength=n)
        ok = np.bincount(slot, weights=self.outcome[done] == Outcome.OK, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            error_rate = np.where(finished > 0, 1.0 - ok / finished, np.nan)
        quantiles = np.full((n, 3), np.nan)
        latency = self.latency[done]
        order = np.argsort(slot, kind="stable")
        edges = np.searchsorted(slot[order], np.arange(n + 1))
        for b in np.nonzero(finished)[0]:
            chunk = latency[order[edges[b] : edges[b + 1]]]
            quantiles[b] = np.percentile(chunk, [50, 95, 99])
        return Summary(
            service=service,
            bucket=bucket,
            time=np.arange(n) * bucket,
            started=started / bucket,
            throughput=finished / bucket,
            goodput=ok / bucket,
            error_rate=error_rate,
            p50=quantiles[:, 0],
            p95=quantiles[:, 1],
            p99=quantiles[:, 2],
        )

    def callee(self, service: str, bucket: float = 1.0) -> CalleeSummary:
        """The callee's view of ``service`` per bucket: attempts arriving (by
        arrival time), and its work and wasted work (by the time each call left
        the service), each per second."""
        if not bucket > 0:
            raise ValueError(f"bucket must be a number of seconds > 0, got {bucket!r}")
        self.index_of(service)
        n = max(1, int(np.ceil(self.until / bucket - 1e-9)))
        arrivals = np.asarray(getattr(self, "arrivals", {}).get(service, ()), dtype=float)
        came = np.bincount(np.minimum((arrivals // bucket).astype(int), n - 1), minlength=n)
        visits = self.visits[service]
        slot = np.minimum((visits[:, 1] // bucket).astype(int), n - 1)
        work = np.bincount(slot, weights=visits[:, 2], minlength=n)
        wasted = np.bincount(slot, weights=visits[:, 3], minlength=n)
        return CalleeSummary(service=service, bucket=bucket, time=np.arange(n) * bucket,
                             arrivals=came / bucket, work=work / bucket, wasted=wasted / bucket)

    def __repr__(self):
        return (
            f"RunResult({len(self.start)} calls over {self.until:g} s, "
            f"services={self.services}, seed={self.seed!r})"
        )
