"""Automated failure injection in CI (lesson 7): a chaos experiment as a test.

The lesson's experiment file runs through Chaos Toolkit against the fixed world on
every build; the build fails, with the report, if its hypothesis deviates. The
second test shows that the same test would fail on the weak world, so the first
one can fail: it is not a test that always passes.
"""

import pytest

from resilience_lab.lessons import chaos

EXPERIMENT = chaos.EXPERIMENTS / "b-answers-slowly.json"


def test_b_answers_slowly_holds_on_the_fixed_world():
    report = chaos.run_experiment(EXPERIMENT, chaos.fixed_world())
    chaos.assert_holds(report)


def test_the_same_test_fails_the_build_on_the_weak_world():
    report = chaos.run_experiment(EXPERIMENT, chaos.weak_world())
    with pytest.raises(AssertionError, match="did not hold") as failure:
        chaos.assert_holds(report)
    assert "DEVIATED" in str(failure.value) and "p99 latency of A" in str(failure.value)
