"""resilience-lab: an interactive course on designing distributed systems for failure.

- :mod:`resilience_lab.world`: simulated services on SimPy, faults, metrics.
- :mod:`resilience_lab.patterns`: the patterns as clock-free state machines.
- :mod:`resilience_lab.figures`: figures and the widget panels.
- :mod:`resilience_lab.checks`: the graded checks the exercises run.

The names below are loaded on first use, so that ``import
resilience_lab.patterns`` (in a grader, or in real time) does not load SimPy.
"""

import importlib

__version__ = "0.1.0"

_HOMES = {
    "Outcome": ".outcomes",
    "Timeout": ".patterns",
    "World": ".world",
    "RunResult": ".world",
    "Exponential": ".world",
    "Fixed": ".world",
    "LogNormal": ".world",
    "SlowerUnderLoad": ".world",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module 'resilience_lab' has no attribute {name!r}")
