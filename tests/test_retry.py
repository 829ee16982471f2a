"""Backoff schedules, the retry decision, the retry budget, and retries in the world."""

import math
import random

import numpy as np
import pytest

from resilience_lab import Outcome, Timeout, World
from resilience_lab.lessons import retries as lesson
from resilience_lab.patterns import TRANSIENT, Backoff, Retry, RetryBudget, is_transient, should_retry
from resilience_lab.patterns.retry import (decorrelated_jitter, equal_jitter, exponential, full_jitter,
                                           no_jitter)
from resilience_lab.world import CLIENT


def test_no_jitter_doubles_from_base_up_to_cap():
    assert [no_jitter(n, None, 0.1, 1.0) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert exponential(5000, 0.1, 1.0) == 1.0


def test_full_and_equal_jitter_stay_in_their_ranges():
    rng = random.Random(1)
    full = [full_jitter(3, rng, 0.1, 1.0) for _ in range(1000)]
    equal = [equal_jitter(3, rng, 0.1, 1.0) for _ in range(1000)]
    assert 0 <= min(full) < 0.05 and 0.75 < max(full) <= 0.8
    assert 0.4 <= min(equal) < 0.45 and 0.75 < max(equal) <= 0.8


def test_decorrelated_jitter_grows_from_the_previous_delay_and_respects_the_cap():
    rng = random.Random(2)
    assert all(0.1 <= decorrelated_jitter(0.2, rng, 0.1, 1.0) <= 0.6 for _ in range(500))
    assert max(decorrelated_jitter(10.0, rng, 0.1, 1.0) for _ in range(500)) == 1.0


def test_the_same_seed_gives_the_same_schedule():
    backoff = Backoff("decorrelated", 0.1, 5.0)
    assert backoff.schedule(6, random.Random(7)) == backoff.schedule(6, random.Random(7))
    assert backoff.schedule(6, random.Random(7)) != backoff.schedule(6, random.Random(8))


def test_backoff_refuses_bad_settings():
    with pytest.raises(ValueError, match="jitter must be one of"):
        Backoff("random")
    with pytest.raises(ValueError, match="cap must be >= base"):
        Backoff("full", base=2.0, cap=1.0)
    with pytest.raises(ValueError, match="retry number"):
        Backoff().delay(-1, random.Random(0))


def test_only_transient_errors_are_retried_and_only_while_attempts_remain():
    assert TRANSIENT == {"timeout", "connection", 429, 502, 503, 504}
    assert all(is_transient(e) for e in TRANSIENT)
    assert not any(is_transient(e) for e in (400, 401, 403, 404, 422, 500, "rejected"))
    assert should_retry(503, 2, 3) and not should_retry(503, 3, 3) and not should_retry(404, 1, 3)


def test_a_call_that_is_not_idempotent_is_retried_only_with_a_key():
    assert not should_retry(503, 1, 3, idempotent=False)
    assert should_retry(503, 1, 3, idempotent=False, idempotency_key="order-17")
    assert not should_retry(404, 1, 3, idempotent=False, idempotency_key="order-17")
    assert should_retry("timeout", 1, 3, idempotent=True)


def test_retry_decision_returns_a_delay_or_none():
    retry = Retry(3, Backoff("none", 0.1, 1.0))
    rng = random.Random(0)
    assert retry.next_delay(503, 1, 0.0, rng) == pytest.approx(0.1)
    assert retry.next_delay(503, 2, 0.0, rng) == pytest.approx(0.2)
    assert retry.next_delay(503, 3, 0.0, rng) is None
    assert retry.next_delay(404, 1, 0.0, rng) is None
    with pytest.raises(ValueError, match="max_attempts"):
        Retry(0)


def test_budget_allows_its_ratio_of_recent_requests():
    budget = RetryBudget(ratio=0.2, window=10.0, min_per_second=0.0)
    for i in range(100):
        budget.record_request(i * 0.01)
    allowed = sum(budget.try_retry(1.0) for _ in range(50))
    assert allowed == 20 and budget.refused == 30


def test_budget_forgets_requests_older_than_its_window():
    budget = RetryBudget(ratio=0.5, window=10.0, min_per_second=0.0)
    for _ in range(10):
        budget.record_request(0.0)
    assert budget.try_retry(5.0)
    assert not budget.try_retry(25.0)  # the ten requests left the window


def test_budget_floor_allows_retries_with_no_requests():
    budget = RetryBudget(ratio=0.2, window=10.0, min_per_second=1.0)
    assert sum(budget.try_retry(0.0) for _ in range(15)) == 10


def test_budget_keeps_a_long_outage_within_its_ratio():
    requests, retries = lesson.budget_trace(lambda: RetryBudget(0.1, 10.0, 0.0))
    assert len(retries) == pytest.approx(0.1 * len(requests), rel=0.02)


def test_retries_in_the_world_count_attempts_and_skip_404s():
    result = lesson.lookup_world().run(10)
    gone = result.calls_to("gone", CLIENT)
    assert len(result.arrivals["gone"]) == gone.sum()  # never retried
    catalog = result.calls_to("catalog", CLIENT)
    assert len(result.arrivals["catalog"]) > catalog.sum()
    assert np.mean(result.outcome[catalog] == Outcome.OK) > 0.99


def test_retries_at_every_layer_multiply_and_a_budget_bounds_them():
    every = lesson.amplification(lesson.chain_world().run(10))
    budget = lesson.amplification(lesson.chain_world(budget=RetryBudget(0.1, 10.0, 0.0)).run(10))
    one = lesson.amplification(lesson.chain_world("client only").run(10))
    assert every == pytest.approx(81, rel=0.05)
    assert budget == pytest.approx(1.1**4, rel=0.03)  # each of 4 layers adds at most 10%
    assert one == pytest.approx(3, rel=0.02)


@pytest.mark.parametrize("bad", [200, 42, "404", True])
def test_a_service_error_status_must_be_an_http_error(bad):
    with pytest.raises(ValueError, match="error_status must be an HTTP error status"):
        World().service("A", error_status=bad)


def test_a_timeout_inside_the_retry_is_retried():
    world = World(seed=1)
    world.service("B", workers=10, latency=0.01)
    world.load("B", rate=10)
    world.protect(CLIENT, "B", Retry(2, Backoff("none", 0.05, 0.05)), Timeout(0.1))
    world.inject_outage("B", mode="hang", start=0, end=2)
    result = world.run(3)
    early = result.calls_to("B") & (result.start < 1.5)
    assert result.latency[early].min() == pytest.approx(0.25)  # 0.1 + 0.05 + 0.1
    assert len(result.arrivals["B"]) > result.calls_to("B").sum()


def test_contention_starts_the_backoff_exponent_at_one_as_brookers_simulator():
    seen = []

    class Recording(Backoff):
        def delay(self, retry, rng, previous=None):
            seen.append(retry)
            return super().delay(retry, rng, previous)

    kept = lesson.Backoff
    lesson.Backoff = Recording
    try:
        lesson.contention(10, "none", seed=1)
        first = seen[0]
        seen.clear()
        lesson.contention(10, "none", seed=1, first_exponent=0)
    finally:
        lesson.Backoff = kept
    assert first == 1 and seen[0] == 0


@pytest.fixture(scope="module")
def brooker_at_100():
    # The very runs the lesson's sweep makes at 100 clients (same seeds, same 5 runs).
    return lesson.at_clients(lesson.brooker_sweep(clients=(100,), progress=False), 100)


def test_contention_reproduces_brookers_shape_at_100_clients(brooker_at_100):
    calls = {name: row["calls"] for name, row in brooker_at_100.items()}
    seconds = {name: row["seconds"] for name, row in brooker_at_100.items()}
    plain = calls["no jitter"]
    assert calls["Full Jitter"] < 0.5 * plain and calls["Equal Jitter"] < 0.5 * plain
    assert 0.5 * plain < calls["Decorrelated Jitter"] < 0.6 * plain  # not quite halved
    assert math.isclose(calls["Full Jitter"], calls["Equal Jitter"], rel_tol=0.1)
    assert seconds["Equal Jitter"] > seconds["Full Jitter"]
    assert 1.15 < calls["Decorrelated Jitter"] / calls["Full Jitter"] < 1.35  # "about a quarter more"
    assert max(seconds.values()) == seconds["no jitter"]


def test_decorrelated_finishes_sooner_than_full_up_to_100_clients_and_later_beyond():
    table = lesson.brooker_sweep(jitters=("full", "decorrelated"), progress=False)  # the lesson's runs
    clients, full, decorrelated = table["full"]["clients"], table["full"]["seconds"], table["decorrelated"]["seconds"]
    assert np.all((decorrelated < full)[clients <= 100])
    assert np.all((decorrelated > full)[clients > 100])


def test_lesson_5_quotes_the_shares_its_own_sweep_measures(brooker_at_100):
    import re

    import nbformat

    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / "05-retries.ipynb"
    text = {c.id: c.source for c in nbformat.read(path, as_version=4).cells}["cell-08"]
    plain = brooker_at_100["no jitter"]["calls"]
    shares = [round(100 * brooker_at_100[name]["calls"] / plain)
              for name in ("Full Jitter", "Equal Jitter", "Decorrelated Jitter")]
    assert [int(n) for n in re.findall(r"(\d+)%", text)] == shares
    assert "any jitter cuts the calls by more than half" not in text
    setup = {c.id: c.source for c in nbformat.read(path, as_version=4).cells}["cell-05"]
    assert "exponent starts at 1" in setup


def test_the_transient_errors_are_the_ones_the_docstring_names():
    assert TRANSIENT == {"timeout", "connection", 429, 502, 503, 504}
    assert all(is_transient(e) for e in TRANSIENT)
    assert not any(is_transient(e) for e in (400, 404, 500, "rejected"))
