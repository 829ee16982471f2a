"""Benchmarks of resilience-lab: ``python -m benchmarks`` (or ``make bench``).

Every module here that defines ``run(quick=False) -> dict`` is a benchmark; the
runner (``__main__.py``) finds them by name, so a new benchmark needs no
registration. ``python -m benchmarks engine widgets`` runs only those;
``--quick`` runs each at a smaller size (for trying a change, not for figures).

A benchmark returns ``{"title": str, "lines": [str, ...], ...data}``: the lines
are its human summary; the whole dict is written to ``benchmarks/results/NAME.json``
and the lines of all benchmarks run to ``benchmarks/results/summary.md``
(``results/`` is not committed; the README quotes the figures).

Figures are medians or ratios of repeated runs, never one timing, and nothing
fails on a timing: a benchmark reports, the reader judges against the targets.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def median(values) -> float:
    return float(statistics.median(values))


def percentile(values, q: float) -> float:
    """The ``q``-th percentile (0-100), linear interpolation as numpy does."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def machine() -> str:
    """One line on the machine, including how busy it was (other work skews timings)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load}")


class Stopwatch:
    """Wall and CPU seconds of a ``with`` block: ``with Stopwatch() as t: ...; t.wall, t.cpu``."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
