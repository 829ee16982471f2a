"""How a call ended, as its caller saw it.

Every record the simulator keeps ends in one of these outcomes. They are small
integers so that a run's records fit in a numpy array; compare them by name
(``Outcome.TIMEOUT``), never by number.

- ``OK``: the callee answered and the answer was good.
- ``ERROR``: the callee answered with an error (or refused the connection).
- ``TIMEOUT``: the caller stopped waiting; the callee may still be working.
- ``REJECTED``: a bulkhead or a full queue turned the call away before it ran.
- ``SHORT_CIRCUITED``: an open circuit breaker failed the call without sending it.
- ``FALLBACK``: the call failed, and the caller used a fallback answer instead.
- ``UNFINISHED``: the simulation ended while the call was still in flight.
"""

from enum import IntEnum


class Outcome(IntEnum):
    OK = 0
    ERROR = 1
    TIMEOUT = 2
    REJECTED = 3
    SHORT_CIRCUITED = 4
    FALLBACK = 5
    UNFINISHED = 6

    @property
    def label(self) -> str:
        """The outcome's name as a person writes it: ``short-circuited``."""
        return self.name.lower().replace("_", "-")


#: Outcomes after which the caller carries on as if the call succeeded.
USABLE = frozenset({Outcome.OK, Outcome.FALLBACK})
