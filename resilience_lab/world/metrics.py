"""What a run measured, as numpy arrays, and the summaries lessons plot.

A run keeps two kinds of data:

- **calls**: one record per call, written by the caller when the answer (or a
  timeout, a rejection, ...) comes back: which service was called, by whom
  (``"client"`` for the load), when it started and ended, and its
  :class:`~resilience_lab.outcomes.Outcome`. Calls still in flight when the run
  ends are recorded as ``unfinished`` with ``end`` = the end of the run.
- **samples**: every ``sample_every`` seconds, for each service, how many
  workers are busy, how many calls wait in its queue, and its capacity.

:meth:`RunResult.summary` cuts one service's calls into time buckets (by the
time each call *ended*) and gives, per bucket: throughput (finished calls per
second), goodput (``ok`` calls per second), error rate (share of finished calls
that were not ``ok``), and the p50, p95 and p99 latency in seconds (numpy's
linear-interpolation percentiles; ``nan`` where a bucket has no call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..outcomes import Outcome

CLIENT = "client"


@dataclass
class Summary:
    """Per-bucket figures for one service; every array has one entry per bucket."""

    service: str
    bucket: float
    time: np.ndarray  # start of each bucket
    started: np.ndarray  # calls started per second (offered load)
    throughput: np.ndarray
    goodput: np.ndarray
    error_rate: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray


class RunResult:
    """The measurements of one run of a :class:`~resilience_lab.world.World`."""

    def __init__(self, *, services, records, sample_times, samples, faults, until, seed):
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

    def __repr__(self):
        return (
            f"RunResult({len(self.start)} calls over {self.until:g} s, "
            f"services={self.services}, seed={self.seed!r})"
        )
