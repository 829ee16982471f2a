"""The simulated world: services on SimPy, load, faults, policies, metrics."""

from .faults import AddedLatency, ErrorRate, Fault, KilledInstance, LostCapacity, Outage
from .latency import Exponential, Fixed, Load, LogNormal, SlowerUnderLoad
from .metrics import CLIENT, RunResult, Summary
from .policies import PassThrough
from .world import World

__all__ = [
    "CLIENT", "AddedLatency", "ErrorRate", "Exponential", "Fault", "Fixed", "KilledInstance", "Load",
    "LogNormal", "LostCapacity", "Outage", "PassThrough", "RunResult", "SlowerUnderLoad", "Summary", "World",
]
