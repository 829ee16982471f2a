"""The resilience patterns as sans-I/O state machines.

Nothing in this package reads a clock, sleeps, or imports simpy, asyncio or
ipywidgets: every method that depends on time takes ``now`` (seconds, any
monotonic clock) as an argument. The same object therefore runs in simulated
time (:mod:`resilience_lab.world` adapts it), in real time, and in the grader.
"""

from .bulkhead import Bulkhead, call_with_bulkhead, partition_size
from .retry import TRANSIENT, Backoff, Retry, RetryBudget, is_transient, should_retry
from .circuit_breaker import CircuitBreaker, Transition
from .deadline import Deadline, choose_timeout
from .fallback import Fallback
from .fallback_chain import FallbackChain, Served
from .timeout import Timeout
from .write_queue import IdempotentReceiver, WriteQueue

__all__ = [
    "CircuitBreaker", "Deadline", "Fallback", "FallbackChain", "IdempotentReceiver", "Served", "Transition",
    "WriteQueue", "choose_timeout",
    "TRANSIENT", "Backoff", "Bulkhead", "Retry", "RetryBudget", "Timeout",
    "call_with_bulkhead", "is_transient", "partition_size", "should_retry",
]
