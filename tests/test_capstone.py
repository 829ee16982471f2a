"""Lesson 8: the error budget's arithmetic, the shop, plans as data, a month of chaos,
the order of the patterns, and the panel."""

import math

import numpy as np
import pytest

from resilience_lab.lessons import capstone as lesson
from resilience_lab.lessons import error_budget as eb
from resilience_lab.patterns import (Backoff, Bulkhead, CircuitBreaker, Deadline, Fallback, Retry, RetryBudget,
                                     Timeout)


def good_plan():
    """A plan like the solution's: fallbacks on the optional features, budgeted retries with
    a timeout per attempt on the critical path, a deadline on the page, workers for catalog."""
    plan = lesson.Plan()
    for feature in lesson.OPTIONAL:
        plan.protect("frontend", feature, Fallback(), Bulkhead(20),
                     CircuitBreaker(failure_rate=0.5, window=5, minimum_calls=10, open_for=2), Timeout(0.25))
    for dependency in ("catalog", "pricing"):
        plan.protect("frontend", dependency, Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1)),
                     CircuitBreaker(failure_rate=0.5, window=5, minimum_calls=20, open_for=2), Timeout(0.3))
    plan.protect("client", "frontend", Deadline(1.0))
    plan.add_workers("catalog", 1)
    return plan


# -- the budget's arithmetic ------------------------------------------------------------------
def test_the_budget_is_43_minutes_a_month_at_99_9_percent():
    assert math.isclose(eb.budget_minutes(0.999, 30), 43.2)
    assert math.isclose(eb.budget_minutes(0.99, 7), 100.8)
    for slo in (1.0, 0.0, 99.9, True, "0.999"):
        with pytest.raises(ValueError, match="slo must be a share between 0 and 1"):
            eb.budget_minutes(slo)
    with pytest.raises(ValueError, match="days must be a number > 0, got 0"):
        eb.budget_minutes(0.999, 0)


def test_a_burn_rate_of_14_4_for_an_hour_spends_2_percent_of_a_30_day_budget():
    bad = [0.0144] * 60 + [0.0] * (lesson.MINUTES - 60)
    assert math.isclose(eb.spent(bad, 0.999)[-1], 0.02)
    assert math.isclose(eb.burn_rates(bad, 0.999, 60)[59], 14.4)


def test_burn_rates_average_the_minutes_so_far_at_the_start():
    bad = [0.01, 0.0, 0.02, 0.0]
    assert np.allclose(eb.burn_rates(bad, 0.999, 3), [10.0, 5.0, 10.0, 20 / 3])
    assert np.allclose(eb.burn_rates(bad, 0.99, 1), [1.0, 0.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="window must be a whole number of minutes >= 1, got 0"):
        eb.burn_rates(bad, 0.999, 0)
    with pytest.raises(ValueError, match="each from 0 to 1"):
        eb.burn_rates([0.5, 1.5], 0.999, 5)


def test_an_outage_pages_at_once_and_the_short_window_stops_the_page_soon_after():
    bad = [0.0] * 600 + [1.0] * 30 + [0.0] * 800
    fast = eb.firing(bad, 0.999, eb.ALERTS[0])
    assert eb.alert_spans(fast) == [(600, 634)]  # the last 5 minutes hold no bad minute from minute 634
    pages = eb.page_minutes(bad, 0.999)
    assert pages[0] == 600 and pages[-1] == 658  # the slow page's 30-minute window clears at minute 659
    assert eb.alert_spans(eb.firing(bad, 0.999, eb.ALERTS[1]))[0][0] > 600


def test_a_short_blip_and_a_slow_steady_burn_page_no_one():
    blip = [0.0] * 700 + [0.2, 0.2] + [0.0] * 700
    assert eb.page_minutes(blip, 0.999) == []
    steady = [0.003] * 2000  # burn rate 3: under both pages' thresholds, over the ticket's
    assert eb.page_minutes(steady, 0.999) == []
    assert eb.firing(steady, 0.999, eb.ALERTS[2]).all()


def test_the_freeze_starts_at_the_minute_the_budget_is_spent():
    bad = [0.0] * 100 + [1.0] * 50 + [0.0] * 100
    assert eb.freeze_minute(bad, 0.999) == 100 + 43  # 43.2 minutes: spent at the end of the 44th bad minute
    assert eb.freeze_minute([0.0] * 100, 0.999) is None
    assert eb.budget_left(bad, 0.999)[-1] < 0


# -- the shop and its plans ---------------------------------------------------------------------
def test_the_shop_has_six_services_a_fan_out_a_critical_path_and_optional_features():
    world = lesson.shop_world()
    assert len(world.services) >= 6
    frontend = world.services["frontend"]
    assert frontend.parallel and set(frontend.calls) == set(lesson.CRITICAL[:2]) | set(lesson.OPTIONAL)
    assert world.services["catalog"].calls == ("db",)
    healthy = lesson.effect(lesson.Plan(), None)
    assert healthy.bad == 0.0 and healthy.pages > 1000 and healthy.calls_per_page < 1.01


def test_a_plan_refuses_what_the_capstone_does_not_allow_by_name():
    plan = lesson.Plan()
    with pytest.raises(ValueError, match="no calls go from 'frontend' to 'db'"):
        plan.protect("frontend", "db", Timeout(1))
    with pytest.raises(ValueError, match="is not one of the course's patterns"):
        plan.protect("frontend", "pricing", object())
    with pytest.raises(ValueError, match="a Fallback on frontend -> pricing: a page without its pricing"):
        plan.protect("frontend", "pricing", Fallback())
    with pytest.raises(ValueError, match="two Timeouts on frontend -> reviews"):
        plan.protect("frontend", "reviews", Timeout(1), Timeout(2))
    with pytest.raises(ValueError, match=r"Retry\(6\) on frontend -> catalog: at most 5 attempts"):
        plan.protect("frontend", "catalog", Retry(6))
    with pytest.raises(ValueError, match="unknown service 'search'"):
        plan.add_workers("search", 1)
    with pytest.raises(ValueError, match="a whole number of workers >= 0, got -1"):
        plan.add_workers("catalog", -1)
    assert plan.routes == {} and plan.workers == {}
    assert plan.add_workers("catalog", 2).extra_workers == 6  # 2 on each of its 3 instances


def test_a_plan_travels_as_plain_data_and_comes_back_the_same():
    plan = good_plan()
    shared = Bulkhead(7, max_wait=0.1)
    plan.protect("frontend", "recommendations", Fallback(seconds=0.01), shared, Timeout(0.2))
    plan.protect("frontend", "reviews", shared, Timeout(0.2))
    data = plan.as_data()
    assert data == eval(repr(data))  # nothing but dicts, lists, strings, numbers and None
    again = lesson.Plan.from_data(data)
    assert again.key() == plan.key() and again.extra_workers == 3
    recommendations = again.routes[("frontend", "recommendations")]
    assert recommendations[1] is again.routes[("frontend", "reviews")][0]  # still one shared bulkhead
    assert recommendations[0].seconds == 0.01 and recommendations[1].max_wait == 0.1
    retry = again.routes[("frontend", "catalog")][0]
    assert retry.budget.ratio == 0.4 and retry.backoff == Backoff("full", 0.01, 0.1)
    assert retry.retry_on == Retry().retry_on


def test_plan_data_is_checked_again_when_it_comes_back():
    data = good_plan().as_data()
    bad_index = {**data, "routes": [["frontend", "reviews", [99]]]}
    with pytest.raises(ValueError, match="refers to object 99"):
        lesson.Plan.from_data(bad_index)
    bad_kind = {**data, "objects": [{"kind": "os.system"}], "routes": [["frontend", "reviews", [0]]]}
    with pytest.raises(ValueError, match="kind 'os.system'"):
        lesson.Plan.from_data(bad_kind)
    bad_value = {**data, "objects": [{"kind": "Timeout", "seconds": -1}], "routes": [["frontend", "reviews", [0]]]}
    with pytest.raises(ValueError, match="Timeout seconds must be a number > 0"):
        lesson.Plan.from_data(bad_value)
    with pytest.raises(ValueError, match="a dict with 'workers', 'objects' and 'routes'"):
        lesson.Plan.from_data([])


# -- months ---------------------------------------------------------------------------------------
def test_a_month_is_drawn_from_its_seed_alone():
    example = lesson.chaos_month(lesson.EXAMPLE_SEED)
    assert example == lesson.chaos_month(lesson.EXAMPLE_SEED) and example != lesson.chaos_month(1)
    for seed in (lesson.EXAMPLE_SEED, 1, 2, "any string"):
        month = lesson.chaos_month(seed)
        assert len([i for i in month if i.cause != "release"]) >= 5
        for first, second in zip(month, month[1:]):
            assert first.end <= second.start  # no two at once
        assert month[-1].end <= lesson.MINUTES
        for release in (i for i in month if i.cause == "release"):
            day, minute = divmod(release.start, eb.MINUTES_PER_DAY)
            assert day % 7 in lesson.RELEASE_DAYS and minute == lesson.RELEASE_MINUTE
    assert {i.service for s in range(20) for i in lesson.chaos_month(s)} == set(lesson.SERVICES) - {"frontend"}


def test_each_kind_of_incident_is_simulated_once_per_plan(monkeypatch):
    runs = []
    real = lesson.run_incident
    monkeypatch.setattr(lesson, "run_incident", lambda plan, incident: (runs.append(incident), real(plan, incident))[1])
    plan = lesson.Plan().protect("frontend", "reviews", Timeout(0.71))  # a plan no other test uses
    incidents = lesson.chaos_month(lesson.EXAMPLE_SEED)
    lesson.month(plan, incidents)
    lesson.month(plan, incidents)
    assert len(runs) == len({i.what for i in incidents}) + 1  # and one healthy run


def test_the_example_month_unprotected_misses_the_slo_and_freezes_releases():
    incidents = lesson.chaos_month(lesson.EXAMPLE_SEED)
    month = lesson.month(None, incidents)
    assert not month.slo_met and month.spent > 2
    assert month.freeze is not None and month.left[month.freeze] <= 1e-9 < month.left[month.freeze - 1]
    assert month.frozen and all(i.cause == "release" and i.start > month.freeze for i in month.frozen)
    assert len(month.incidents) + len(month.frozen) == len(incidents)
    # Every minute outside the incidents is a healthy minute; inside, the incident's share.
    inside = np.zeros(lesson.MINUTES, dtype=bool)
    for incident in month.incidents:
        inside[incident.start:incident.end] = True
        assert np.all(month.bad[incident.start:incident.end] == month.effects[incident.what].bad)
    assert np.all(month.bad[~inside] == month.healthy.bad)
    # An incident that fails most pages pages someone within 5 minutes of its start.
    worst = max(month.incidents, key=lambda i: month.effects[i.what].bad)
    assert month.effects[worst.what].bad > 0.9
    fires = month.fires["fast burn"] | month.fires["slow burn"]
    assert fires[worst.start:worst.start + 5].any() and not fires[:month.incidents[0].start].any()


def test_a_good_plan_keeps_the_slo_in_the_example_month_and_others_within_the_costs():
    plan = good_plan()
    for seed in (lesson.EXAMPLE_SEED, 1, 2, 3):
        month = lesson.month(plan, lesson.chaos_month(seed))
        assert month.slo_met and month.spent < 0.7 and month.freeze is None, (seed, month.report())
        assert month.within_costs()
    assert lesson.costs(plan)["within costs"]


def test_retries_without_a_budget_cost_more_calls_than_allowed():
    unbudgeted = lesson.Plan().protect("frontend", "pricing", Retry(3, Backoff("full", 0.01, 0.1)), Timeout(0.3))
    costs = lesson.costs(unbudgeted)
    assert costs["most calls per page"] > 2.5 and costs["to"] == "pricing" and not costs["within costs"]
    budgeted = lesson.Plan().protect("frontend", "pricing", Retry(3, Backoff("full", 0.01, 0.1),
                                                                  budget=RetryBudget(0.4, 10, 1)), Timeout(0.3))
    assert lesson.costs(budgeted)["most calls per page"] <= 1.45
    assert not lesson.costs(lesson.Plan().add_workers("catalog", 5))["within costs"]  # 15 workers


def test_each_wrong_order_of_the_patterns_measures_worse_than_the_right_one():
    rows = lesson.compare_orders()
    assert len(rows) == 4
    for row in rows:
        assert row["wrong"] > 1.5 * row["right"], row
    by_question = {row["question"]: row for row in rows}
    assert by_question["a timeout per attempt, or one around the retries?"]["wrong"] > 0.25  # a third of the pages
    assert by_question["the fallback last (outermost), or inside the retry?"]["wrong"] > 0.4


# -- the figure and the panel ---------------------------------------------------------------------------
def test_the_month_figure_keeps_its_data_in_view_and_the_panel_redraws():
    from test_panel import _outside, _values_to_try

    from resilience_lab.lessons import capstone_figures as figures

    figure = figures.MonthFigure()
    figure.update(lesson.month(None, lesson.chaos_month(lesson.EXAMPLE_SEED)))
    assert all(_outside(ax) == [] for ax in figure.fig.axes)
    panel = figures.panel()
    before = panel.image.value
    assert before[:4] == b"\x89PNG" and not panel.result.slo_met
    panel.set(fallbacks=True)
    assert panel.image.value != before and panel.result.spent < 0.9 * lesson.month(None, panel.incidents).spent
    tried = 0
    for key, control in panel.controls.items():
        original = control.value
        for value in _values_to_try(control):
            control.value = value
            assert panel.runner.wait(120) and "Could not draw" not in panel.status.value, (key, value)
            assert all(_outside(ax) == [] for ax in panel.figure.fig.axes), (key, value)
            tried += 1
        control.value = original
        assert panel.runner.wait(120)
    assert tried >= 2 * len(panel.controls)


def test_the_panel_switches_and_stretching():
    from resilience_lab.lessons import capstone_figures as figures

    assert figures.switch_plan([]).routes == {}
    everything = figures.switch_plan(figures.SWITCHES)
    assert [type(p).__name__ for p in everything.routes[("frontend", "recommendations")]] == \
        ["Fallback", "Bulkhead", "CircuitBreaker", "Timeout"]
    assert [type(p).__name__ for p in everything.routes[("frontend", "pricing")]] == \
        ["Bulkhead", "Retry", "CircuitBreaker", "Timeout"]
    incidents = lesson.chaos_month(lesson.EXAMPLE_SEED)
    longer = figures.stretched(incidents, 3.0, set(lesson.SERVICES))
    assert [i.start for i in longer] == [i.start for i in incidents]
    assert all(a.end <= b.start for a, b in zip(longer, longer[1:])) and longer[-1].end <= lesson.MINUTES
    assert sum(i.minutes for i in longer) > 2 * sum(i.minutes for i in incidents)
    assert {i.service for i in figures.stretched(incidents, 1.0, {"reviews"})} == {"reviews"}


def test_plan_data_cannot_make_the_grader_build_something_huge():
    data = {"workers": {}, "objects": [{"kind": "Retry", "max_attempts": 3,
                                        "backoff": {"jitter": "full", "base": 0.01, "cap": 0.1},
                                        "retry_on": ["timeout"], "budget": 1},
                                       {"kind": "RetryBudget", "ratio": 0.1, "window": 10, "min_per_second": 1,
                                        "buckets": 10**9}],
            "routes": [["frontend", "pricing", [0]]]}
    with pytest.raises(ValueError, match="a RetryBudget of 1000000000 buckets: at most 1000"):
        lesson.Plan.from_data(data)
    data["objects"][0]["max_attempts"] = 10**6
    data["objects"][1]["buckets"] = 10
    with pytest.raises(ValueError, match="at most 5 attempts"):
        lesson.Plan.from_data(data)
