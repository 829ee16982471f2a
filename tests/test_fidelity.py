"""Fidelity: the simulator agrees with queueing theory, within confidence intervals.

Every tolerance here is a confidence interval computed from the run itself (batch
means, see :mod:`resilience_lab.lessons.fidelity`), or a bound derived from the
run length; none is a guessed percentage. Runs are seeded, so the tests are
deterministic; their lengths keep the whole file to a few seconds.
"""

import functools

import numpy as np
import pytest

from resilience_lab.lessons import fidelity
from resilience_lab.lessons.fidelity import erlang_c, mmc_wait

POOLS = (1, 4, 16)
UTILISATIONS = (0.5, 0.8, 0.95)


@functools.cache
def mmc(c, rho):
    return fidelity.mmc_agreement(c, rho, seed=1)


# -- the formulas themselves ------------------------------------------------------
def test_erlang_c_matches_closed_forms():
    # M/M/1: a call waits with probability rho, for rho / (mu - lambda) on average.
    assert erlang_c(1, 0.8) == pytest.approx(0.8)
    assert mmc_wait(1, 0.8) == pytest.approx(0.8 / (1 - 0.8))
    # M/M/2: C = 2 rho^2 / (1 + rho), Wq = rho^2 / (mu (1 - rho^2)).
    rho = 0.6
    assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho**2 / (1 + rho))
    assert mmc_wait(2, rho) == pytest.approx(rho**2 / (1 - rho**2))
    # Doubling the mean work doubles the wait.
    assert mmc_wait(4, 0.7, mean_service=2.0) == pytest.approx(2 * mmc_wait(4, 0.7))


def test_erlang_c_refuses_an_unstable_queue():
    with pytest.raises(ValueError, match="offered load"):
        erlang_c(4, 4.0)


def test_batch_means_interval_covers_the_mean_of_independent_draws():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        mean, half = fidelity.batch_means(rng.exponential(1.0, 2000), batches=10, level=0.95)
        covered += abs(mean - 1.0) <= half
    # A 95% interval covers about 190 of 200 (binomial sd about 3).
    assert 178 <= covered <= 199


# -- 1. M/M/c against Erlang C ------------------------------------------------------
@pytest.mark.parametrize("rho", UTILISATIONS)
@pytest.mark.parametrize("c", POOLS)
def test_mmc_mean_wait_agrees_with_erlang_c(c, rho):
    wait = mmc(c, rho)["wait"]
    assert abs(wait.simulated - wait.predicted) <= wait.half_width, wait


@pytest.mark.parametrize("rho", UTILISATIONS)
@pytest.mark.parametrize("c", POOLS)
def test_mmc_share_of_calls_that_wait_agrees_with_erlang_c(c, rho):
    share = mmc(c, rho)["p_wait"]
    assert abs(share.simulated - share.predicted) <= share.half_width, share


def test_mmc_intervals_are_narrow_enough_to_tell_a_wrong_queue_apart():
    # The agreement would mean little if the interval admitted anything. Where
    # waiting is common (C >= 0.25), each interval rules out a queue that waits
    # 2.25 times as long, and pins the share that waits to within 60%. (Where
    # waiting is rare, as for 16 workers at rho = 0.5, a run this short sees too
    # few waits for a narrow interval; the agreement tests still cover it.)
    for c in POOLS:
        for rho in UTILISATIONS:
            if erlang_c(c, rho * c) < 0.25:
                continue
            measured = mmc(c, rho)
            assert measured["wait"].half_width < 1.25 * mmc_wait(c, rho), (c, rho, measured)
            assert measured["p_wait"].half_width < 0.6 * erlang_c(c, rho * c), (c, rho, measured)


def test_more_workers_at_the_same_utilisation_wait_less():
    # Pooling: the same utilisation spread over more workers queues far less.
    waits = [mmc(c, 0.8)["wait"].simulated for c in POOLS]
    assert waits[0] > 3 * waits[1] > 3 * 3 * waits[2]


# -- 2. Little's law on the simulator's own metrics -----------------------------------
@pytest.fixture(scope="module")
def little_run():
    return fidelity.little_world(rate=150.0).run(until=60.0)


@pytest.mark.parametrize("service", ["A", "B"])
def test_littles_law_holds_on_samples_and_records(little_run, service):
    law = fidelity.little_agreement(little_run, service)
    assert law.predicted > 1.0  # a real queue, not an idle service
    assert abs(law.simulated - law.predicted) <= law.half_width, law


def test_littles_law_interval_is_tight(little_run):
    # The samples and the records are two bookkeepings of one run: they agree to
    # within a few percent, and the interval says so.
    law = fidelity.little_agreement(little_run, "A")
    assert law.half_width < 0.05 * law.predicted, law


# -- 3. Lesson 1: N workers held W seconds each serve at most N / W per second ----------
@pytest.mark.parametrize("workers, extra", [(50, 0.48), (20, 0.18), (10, 0.98)])
def test_a_pool_saturates_at_workers_over_worker_seconds(workers, extra):
    law = fidelity.saturation_agreement(workers, extra)
    assert abs(law.simulated - law.predicted) <= law.half_width, law


def test_below_the_limit_the_pool_serves_everything_offered():
    # Offered 60% of N / W, the pool keeps up: throughput is the offered rate
    # (Poisson count over 20 s at 60/s: sd about 1.7/s; allow 4 sd).
    law = fidelity.saturation_agreement(50, 0.48, rate=60.0)
    assert abs(law.simulated - 60.0) <= 4 * (60.0 / 20.0) ** 0.5
    assert law.simulated < 0.7 * law.predicted


# -- every source of randomness draws its own stream ------------------------------------
def test_two_identical_loads_make_one_mm4_queue_not_a_queue_of_pairs():
    # Two load() calls with the same service, rate and start are two Poisson streams
    # of half the rate: together one M/M/4 at rho = 0.6. Were they to share a random
    # stream, calls would arrive in pairs at the same instant and wait nearly twice
    # as long as Erlang C says (0.33 mean works instead of 0.18): the interval of
    # this run rules out anything 1.5 times Erlang C.
    wait = fidelity.mmc_agreement(4, 0.6, loads=2, calls=40_000, seed=1)["wait"]
    assert abs(wait.simulated - wait.predicted) <= wait.half_width, wait
    assert wait.simulated + wait.half_width < 1.5 * wait.predicted, wait


def test_identical_loads_and_client_groups_never_arrive_together():
    from resilience_lab import World

    world = World(seed=2)
    world.service("S", workers=1000, latency=0.01)
    world.service("T", workers=1000, latency=0.01)
    world.load("S", rate=50)
    world.load("S", rate=50)
    world.clients("T", 3, think_time=0.2)
    world.clients("T", 3, think_time=0.2)
    result = world.run(until=10)
    for name in ("S", "T"):
        starts = result.start[result.calls_to(name)]
        assert len(starts) > 200
        assert len(np.unique(starts)) == len(starts), name  # no two calls at one instant


def test_a_split_load_repeats_with_its_seed():
    first = fidelity.mmc_agreement(4, 0.6, calls=3000, loads=3, seed=5)["wait"]
    again = fidelity.mmc_agreement(4, 0.6, calls=3000, loads=3, seed=5)["wait"]
    other = fidelity.mmc_agreement(4, 0.6, calls=3000, loads=3, seed=6)["wait"]
    assert first == again
    assert first.simulated != other.simulated


# -- the caller's view and the callee's ---------------------------------------------------
@pytest.fixture(scope="module")
def abandoning_run():
    # A gives up on B after 50 ms: about one call in eight is abandoned while B keeps it.
    return fidelity.little_world(rate=150.0, timeout=0.05).run(until=60.0)


def test_once_callers_give_up_littles_law_holds_for_the_callee_not_the_callers_records(abandoning_run):
    from resilience_lab import Outcome

    to_b = abandoning_run.calls_to("B")
    assert np.mean(abandoning_run.outcome[to_b] == Outcome.TIMEOUT) > 0.08
    caller = fidelity.little_agreement(abandoning_run, "B")
    # The caller's record of an abandoned call ends at the timeout; B still holds it.
    assert caller.simulated > caller.predicted + caller.half_width, caller
    callee = fidelity.little_agreement(abandoning_run, "B", view="callee")
    assert abs(callee.simulated - callee.predicted) <= callee.half_width, callee
    assert callee.half_width < 0.05 * callee.predicted


def test_both_views_agree_while_every_caller_waits(little_run):
    for service in ("A", "B"):
        caller = fidelity.little_agreement(little_run, service)
        callee = fidelity.little_agreement(little_run, service, view="callee")
        assert callee.predicted == pytest.approx(caller.predicted, rel=1e-6)


def test_little_agreement_names_a_bad_view(little_run):
    with pytest.raises(ValueError, match="view must be 'caller' or 'callee', got 'server'"):
        fidelity.little_agreement(little_run, "A", view="server")


# -- 4. Overload collapse (Bronson et al., HotOS 2021) ------------------------------------
@pytest.fixture(scope="module")
def metastable():
    # The very runs the appendix shows (same function, same defaults, same seed).
    return fidelity.metastable_runs()


def test_the_appendix_shows_these_runs():
    import nbformat

    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "notebooks" / "90-appendix-simulator-fidelity.ipynb"
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert "runs = fidelity.metastable_runs()" in code
    assert any("fidelity.plot_metastable(runs)" in source for source in code)


def test_every_run_is_healthy_before_the_trigger(metastable):
    for title, result in metastable.items():
        before = fidelity.load_report(result, since=3.0, until=fidelity.METASTABLE_OUTAGE[0])
        assert before.goodput > 0.97 * before.requests, title
        assert before.offered < 1.03 * before.requests and before.queued < 60, title


def test_without_a_trigger_280_requests_a_second_run_for_ever(metastable):
    after = fidelity.load_report(metastable["no outage"])
    assert 260 < after.requests < 300
    assert after.goodput > 0.97 * after.requests and after.wasted_share == 0.0
    _, _, queued, _ = metastable["no outage"].pool("db")
    assert queued.max() <= 60  # it never even slows down


def test_with_one_retry_it_stays_down_long_after_the_trigger(metastable):
    result = metastable["outage, one retry"]
    after = fidelity.load_report(result)  # 20 to 40 s after the network came back
    assert 1.8 * after.requests < after.offered < 2.1 * after.requests  # the load about doubles
    assert after.goodput < 0.02 * after.requests  # goodput near zero
    assert after.wasted_share > 0.95  # the database works for clients that have gone
    times, _, queued, _ = result.pool("db")
    assert queued[-1] > queued[np.searchsorted(times, 40.0)] > 1000  # and it only gets worse
    back = fidelity.load_report(result, since=fidelity.METASTABLE_OUTAGE[1], until=fidelity.METASTABLE_OUTAGE[1] + 1)
    assert back.offered > 1.5 * 300  # the network is back: far more than the 300 a second it can do


def test_without_the_slowdown_the_same_trigger_passes(metastable):
    result = metastable["outage, one retry, no slowdown"]
    after = fidelity.load_report(result)
    assert after.goodput > 0.97 * after.requests and after.offered < 1.03 * after.requests
    times, _, queued, _ = result.pool("db")
    assert queued[times >= 20.0].max() > 60  # a backlog built up after the outage...
    assert queued[times >= 40.0].max() < 60  # ...and drained within 20 s


def test_a_ten_percent_retry_budget_recovers(metastable):
    result = metastable["outage, 10% retry budget"]
    after = fidelity.load_report(result)
    assert after.goodput > 0.97 * after.requests and after.offered < 1.03 * after.requests
    _, _, queued, _ = result.pool("db")
    assert queued.max() < 60  # the work never slows down
    start, end = fidelity.METASTABLE_OUTAGE
    during = fidelity.load_report(result, since=start, until=end)
    storm = fidelity.load_report(metastable["outage, one retry"], since=start, until=end)
    assert during.offered - during.requests < 0.2 * during.requests  # retries within the budget
    assert storm.offered - storm.requests > 0.8 * storm.requests  # against one retry per request
    # The first timeouts come 1 s into the outage; a second later the budget is spent.
    late = fidelity.load_report(result, since=start + 2.0, until=end)
    assert late.offered < 1.1 * late.requests


def test_the_collapse_is_not_one_seeds_accident():
    for seed in (2, 3):
        down = fidelity.load_report(fidelity.metastable_world(seed=seed).run(fidelity.METASTABLE_UNTIL))
        assert down.goodput < 0.02 * down.requests and down.offered > 1.8 * down.requests, seed
        budget = fidelity.metastable_world(seed=seed, budget=fidelity.RetryBudget(0.1, 10.0, 0.0))
        up = fidelity.load_report(budget.run(fidelity.METASTABLE_UNTIL))
        assert up.goodput > 0.97 * up.requests, seed
