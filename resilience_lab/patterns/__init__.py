"""The resilience patterns as sans-I/O state machines.

Nothing in this package reads a clock, sleeps, or imports simpy, asyncio or
ipywidgets: every method that depends on time takes ``now`` (seconds, any
monotonic clock) as an argument. The same object therefore runs in simulated
time (:mod:`resilience_lab.world` adapts it), in real time, and in the grader.
"""

from .circuit_breaker import CircuitBreaker, Transition
from .deadline import Deadline, choose_timeout
from .timeout import Timeout

__all__ = ["CircuitBreaker", "Deadline", "Timeout", "Transition", "choose_timeout"]
