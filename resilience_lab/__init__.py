"""resilience-lab: an interactive course on designing distributed systems for failure.

- :mod:`resilience_lab.world`: simulated services on SimPy, faults, metrics.
- :mod:`resilience_lab.patterns`: the patterns as clock-free state machines.
- :mod:`resilience_lab.plots` and :mod:`resilience_lab.panel`: figures and widgets.
- :mod:`resilience_lab.checks`: the graded checks the exercises run.
"""

from .outcomes import Outcome
from .patterns import Timeout
from .world import (
    Exponential, Fixed, LogNormal, RunResult, World,
)

__version__ = "0.1.0"

__all__ = ["Exponential", "Fixed", "LogNormal", "Outcome", "RunResult", "Timeout", "World"]
