"""The fallback core and its place in a chain of policies; the fallback chain (call, cache, default, degrade)."""

import math

import numpy as np
import pytest

from resilience_lab import Outcome, Timeout, World
from resilience_lab.patterns import Fallback, FallbackChain


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


# -- the fallback chain ----------------------------------------------------------
def answers(value):
    return lambda: value


def down():
    raise ConnectionError("the dependency is down")


def test_the_chain_serves_fresh_then_cache_within_max_age_then_default():
    chain = FallbackChain(max_age=30, default="unavailable")
    assert chain.serve(0, "p1", answers("v0")) == ("fresh", "v0", 0.0)
    assert chain.serve(10, "p1", down) == ("cache", "v0", 10)
    assert chain.serve(30, "p1", down) == ("cache", "v0", 30)  # exactly max_age old: still served
    assert chain.serve(30.5, "p1", down) == ("default", "unavailable", None)
    assert chain.serve(1, "p2", down) == ("default", "unavailable", None)  # never fetched: nothing cached
    assert chain.serve(40, "p1", answers("v40")) == ("fresh", "v40", 0.0)
    assert chain.serve(45, "p1", down) == ("cache", "v40", 5)  # the newest answer for the key
    assert chain.served == {"fresh": 2, "cache": 3, "default": 2}
    assert chain.fallbacks == 5


def test_without_a_default_the_part_is_left_out_and_a_critical_dependency_fails():
    assert FallbackChain(max_age=5).serve(0, "p", down) == ("degraded", None, None)
    critical = FallbackChain(max_age=60, default="0.00", critical=True)
    assert critical.serve(0, "p", answers(9.99)) == ("fresh", 9.99, 0.0)
    assert critical.serve(1, "p", down) == ("failed", None, None)  # a fresh cached price, not served
    assert critical.fallbacks == 0


@pytest.mark.parametrize("steps, expected", [
    (("call",), "failed"),
    (("call", "cache"), "failed"),  # the cache is too old, and there is nothing after it
    (("call", "default"), "default"),
    (("call", "degrade"), "degraded"),
    (("call", "cache", "degrade"), "degraded"),
])
def test_steps_choose_the_options(steps, expected):
    chain = FallbackChain(max_age=10, default="d", steps=steps)
    chain.serve(0, "p", answers("v"))
    assert chain.serve(11, "p", down).source == expected


def test_a_cache_of_any_age_serves_data_as_old_as_the_outage():
    chain = FallbackChain(max_age=math.inf, steps=("call", "cache"))
    chain.serve(0, "p", answers("v"))
    assert chain.serve(3600, "p", down) == ("cache", "v", 3600)


def test_the_chain_calls_the_dependency_once_per_request_whatever_happens():
    calls = []

    def counted():
        calls.append(1)
        raise TimeoutError

    chain = FallbackChain(max_age=10, default="d")
    for now in range(20):
        chain.serve(now, "p", counted)
    assert len(calls) == 20


@pytest.mark.parametrize("kwargs, words", [
    ({"max_age": -1}, "max_age.*-1"),
    ({"max_age": "60"}, "max_age.*'60'"),
    ({"steps": ("cache", "call")}, "steps must start with 'call'"),
    ({"steps": ("call", "default", "cache")}, "keep the order"),
    ({"steps": ("call", "retry")}, "'retry'"),
    ({"critical": True, "steps": ("call", "cache")}, "critical dependency has no fallback"),
])
def test_bad_chains_are_refused_by_value(kwargs, words):
    with pytest.raises(ValueError, match=words):
        FallbackChain(**kwargs)
