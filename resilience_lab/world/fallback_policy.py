"""The fallback on the SimPy side: run the call, then let the core decide what
the caller sees, spending the fallback's ``seconds`` when it is used."""

from __future__ import annotations

from ..outcomes import Outcome
from ..patterns.fallback import Fallback

_FALLBACK = Outcome.FALLBACK


class FallbackPolicy:
    def __init__(self, core: Fallback):
        self.core = core

    def wrap(self, run, caller, target, call):
        env, core = run.env, self.core

        def with_fallback(ctx):
            outcome = core.outcome((yield from call(ctx)))
            if outcome is _FALLBACK and core.seconds:
                yield env.timeout(core.seconds)
            return outcome

        return with_fallback
