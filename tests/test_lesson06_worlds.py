"""Lesson 6's worlds do what the lesson says they do: the page and the orders."""

import math

import numpy as np
import pytest

from resilience_lab.lessons import fallbacks, orders
from resilience_lab.patterns import FallbackChain


# -- the page ----------------------------------------------------------------------------
def test_every_chain_sees_the_same_pages_and_the_down_service_hangs_until_the_timeout():
    runs = fallbacks.compare(fallbacks.options())
    first = next(iter(runs.values()))
    for run in runs.values():
        assert np.array_equal(run.time, first.time) and np.array_equal(run.key, first.key)
    during = first.during()
    assert np.allclose(first.latency[during], fallbacks.CALL_TIMEOUT)  # every page waits for the one down
    assert np.all(first.latency[~during] < fallbacks.CALL_TIMEOUT)
    assert 19 < len(first.time) / fallbacks.UNTIL < 21  # 20 pages a second


def test_the_options_rank_as_the_lesson_says():
    runs = fallbacks.compare(fallbacks.options())
    served = {name: fallbacks.availability(run) for name, run in runs.items()}
    assert served["error propagates"] == 0.0
    assert 0.1 < served["cache (30 s), else error"] < 0.9
    assert served["default response"] == served["leave the widget out"] == served["cache, then default"] == 1.0
    chain = runs["cache, then default"]
    assert fallbacks.served(chain)["cache"] > 0.2 and fallbacks.served(chain)["default"] > 0.2
    assert fallbacks.availability(chain, 0, 30) == 1.0 and fallbacks.degraded_share(chain, 0, 30) == 0.0


def test_popular_products_are_asked_for_far_more_often():
    run = fallbacks.page_run()
    keys, counts = np.unique(run.key, return_counts=True)
    by_key = dict(zip(keys, counts))
    assert by_key["p1"] > 10 * by_key.get("p50", 0)


@pytest.mark.parametrize("max_age", [0.0, 10.0, 30.0])
def test_no_cached_answer_is_older_than_max_age(max_age):
    run = fallbacks.page_run(fallbacks.standard_chains(max_age), outage=(30, 150))
    ages = fallbacks.cache_ages(run)
    if max_age:
        assert ages.size and ages.max() <= max_age
    else:
        assert ages.size == 0  # a failed call comes later than any answer: nothing is 0 s old


def test_a_cache_of_any_age_serves_data_as_old_as_the_outage():
    run = fallbacks.page_run({"recommendations": FallbackChain(math.inf, steps=("call", "cache"))}, outage=(30, 150))
    assert fallbacks.cache_ages(run).max() > 100


def test_a_fallback_to_a_service_sharing_the_failure_doubles_the_calls_and_the_wait():
    runs = fallbacks.compare({"chain": fallbacks.options()["cache, then default"],
                              "elsewhere": fallbacks.AskAnotherService()})
    chain, elsewhere = runs["chain"], runs["elsewhere"]
    assert sum(elsewhere.calls_while_down.values()) == 2 * sum(chain.calls_while_down.values())
    assert np.percentile(elsewhere.latency[elsewhere.during()], 99) == pytest.approx(2 * fallbacks.CALL_TIMEOUT)


def test_the_critical_price_fails_every_page_and_fallbacks_are_counted_for_the_alert():
    assert fallbacks.availability(fallbacks.page_run(down="price")) == 0.0
    run = fallbacks.page_run()
    t, per_second, failed = fallbacks.fallbacks_per_second(run)
    inside = (t >= 32) & (t < 88)
    assert per_second[inside].min() > 5 and per_second[~((t >= 30) & (t < 90))].max() == 0 and failed.max() == 0


@pytest.mark.parametrize("kwargs, words", [
    ({"down": "search"}, "down must be one of"),
    ({"outage": (50, 40)}, r"outage must be \(start, end\)"),
    ({"rate": 0}, "rate must be a number > 0, got 0"),
    ({"until": -1}, "until must be a number > 0, got -1"),
    ({"products": 0}, "products must be a whole number >= 1, got 0"),
])
def test_bad_page_runs_are_refused_by_value(kwargs, words):
    with pytest.raises(ValueError, match=words):
        fallbacks.page_run(**kwargs)


# -- the orders -----------------------------------------------------------------------------
def test_the_reference_loses_nothing_and_charges_nothing_twice_and_drains():
    run = orders.order_run()
    assert run.accepted_at and not run.lost and not run.twice and not run.refused
    assert 5 < run.drain_time < 30
    assert 9 < run.submissions / (orders.UNTIL * (1 + orders.DOUBLE_SUBMIT)) < 11  # 10 orders a second, 10% twice


def test_an_unthrottled_drain_overloads_payments_and_fails_live_calls():
    throttled, unthrottled = orders.order_run(), orders.order_run(drain_rate=None)
    peak = {name: orders.order_report({name: run})[name]["peak calls/s at payments"]
            for name, run in (("throttled", throttled), ("unthrottled", unthrottled))}
    assert peak["throttled"] < orders.CAPACITY_PER_SECOND < 2 * orders.CAPACITY_PER_SECOND < peak["unthrottled"]
    assert throttled.live_failed() == 0 < unthrottled.live_failed()
    assert unthrottled.drain_time < throttled.drain_time


def test_duplicates_come_from_client_retries_and_from_answers_lost_when_payments_fails_again():
    quiet = orders.order_run(receiver=orders.NoKeys(), double_submit=0.0, flap=None)
    assert not quiet.twice  # nothing is sent twice: no key needed
    lost_answers = orders.order_run(receiver=orders.NoKeys(), double_submit=0.0)
    assert len(lost_answers.twice) > 0  # charges done while it went down again, their answers lost, sent again
    retries = orders.order_run(receiver=orders.NoKeys(), flap=None)
    assert len(retries.twice) > 0  # clients that sent their order twice
    assert not orders.order_run(double_submit=0.3).twice  # keys: none


def test_a_full_queue_refuses_what_a_dropping_queue_loses():
    refusing = orders.order_run(capacity=300)
    dropping = orders.order_run(queue=orders.DroppingQueue(300))
    assert len(refusing.refused) == len(dropping.lost) > 100
    assert not refusing.lost and not refusing.charged_after_refusal and math.isinf(dropping.drain_time)


@pytest.mark.parametrize("kwargs, words", [
    ({"outage": (5, 1)}, r"outage must be \(start, end\)"),
    ({"drain_rate": 0}, "drain_rate must be"),
    ({"rate": 0}, "rate must be a number > 0, got 0"),
    ({"live_rate": -5}, "live_rate must be a number >= 0, got -5"),
    ({"double_submit": 1.5}, "double_submit must be a share between 0 and 1, got 1.5"),
])
def test_bad_order_runs_are_refused_by_value(kwargs, words):
    with pytest.raises(ValueError, match=words):
        orders.order_run(**kwargs)


def test_reports_are_dicts_that_a_notebook_shows_as_tables():
    table = orders.order_report({"<b>drained</b>": orders.order_run(live_rate=0)})
    assert table["<b>drained</b>"]["lost"] == 0  # still a dict
    html = table._repr_html_()
    assert html.count("<tr>") == 2 and "<th>charged twice</th>" in html and "&lt;b&gt;drained&lt;/b&gt;" in html
