"""The fallback core and its place in a chain of policies."""

import numpy as np
import pytest

from resilience_lab import Outcome, Timeout, World
from resilience_lab.patterns import Fallback


def test_the_core_replaces_only_the_failures_it_covers():
    fallback = Fallback(on={Outcome.TIMEOUT})
    assert fallback.outcome(Outcome.TIMEOUT) is Outcome.FALLBACK
    assert fallback.outcome(Outcome.ERROR) is Outcome.ERROR
    assert fallback.outcome(Outcome.OK) is Outcome.OK
    assert Fallback().outcome(Outcome.SHORT_CIRCUITED) is Outcome.FALLBACK


@pytest.mark.parametrize("kwargs, words", [
    ({"on": {Outcome.OK}}, "failed outcomes"),
    ({"seconds": -1}, "-1"),
])
def test_bad_fallbacks_are_refused_by_value(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Fallback(**kwargs)


def test_a_fallback_outside_a_timeout_keeps_the_caller_answering_while_b_is_down():
    def run(*policies):
        world = World(seed=3)
        world.service("B", workers=50, latency=0.02)
        world.service("A", workers=50, latency=0.001, calls=["B"])
        world.load("A", rate=100)
        world.inject_outage("B", mode="hang", start=2, end=4)
        world.protect("A", "B", *policies)
        return world.run(until=6)

    plain = run(Timeout(0.1))
    saved = run(Fallback(seconds=0.005), Timeout(0.1))
    window = lambda r, s: r.calls_to(s) & (r.start >= 2.2) & (r.start < 3.8)
    assert np.all(plain.outcome[window(plain, "A")] == Outcome.ERROR)
    assert np.all(saved.outcome[window(saved, "A")] == Outcome.OK)  # A carries on with its fallback
    b_calls = saved.outcome[window(saved, "B")]
    assert np.all(b_calls == Outcome.FALLBACK)  # the metrics still see B failing
    assert np.allclose(saved.latency[window(saved, "B")], 0.105)  # timeout + the fallback's own cost
