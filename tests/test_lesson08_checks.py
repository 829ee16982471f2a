"""Exercise 8's checks pass the reference, catch the classic mistakes, and keep the
months a student cannot see out of the student's process."""

from pathlib import Path

import nbformat
import pytest

from resilience_lab.checks import CheckFailed, REGISTRY, verdict
from resilience_lab.checks import lesson08 as checks
from resilience_lab.grading import batch, runner
from resilience_lab.grading.kernel import Limits
from resilience_lab.grading.notebooks import Release
from resilience_lab.lessons import capstone as lesson
from resilience_lab.lessons import error_budget as eb
from resilience_lab.patterns import Backoff, Fallback, Retry, RetryBudget, Timeout

from test_capstone import good_plan

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = ROOT / "tests" / "mutations" / "hidden" / "ex08_unseen_months.py"
TEST_SEEDS = [11, 22, 33, 44, 55]


def body(check_id):
    return REGISTRY[check_id].body


def solution_protect(plan):
    fresh = good_plan()
    plan.routes, plan.workers = fresh.routes, fresh.workers


def features_and_pricing_only(plan):
    """What the example month needs and nothing more: catalog is never hit there."""
    for feature in lesson.OPTIONAL:
        plan.protect("frontend", feature, Fallback(), Timeout(0.25))
    plan.protect("frontend", "pricing", Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1)),
                 Timeout(0.3))


def test_the_reference_passes_every_check():
    assert verdict(body("l8-budget"), eb.budget_minutes) == (True, "")
    assert verdict(body("l8-alerts"), eb.page_minutes) == (True, "")
    assert verdict(body("l8-costs"), solution_protect) == (True, "")
    assert verdict(body("l8-example-month"), solution_protect) == (True, "")
    assert verdict(checks.check_unseen_months, solution_protect, TEST_SEEDS) == (True, "")


def test_an_untouched_exercise_fails_every_check_as_not_implemented():
    def untouched(*args):
        raise NotImplementedError("write your code here")

    for check_id in ("l8-budget", "l8-alerts", "l8-costs", "l8-example-month"):
        passed, message = verdict(body(check_id), untouched)
        assert not passed and message.startswith("not implemented yet"), (check_id, message)


def test_a_budget_in_hours_fails_with_the_call_and_the_answer():
    passed, message = verdict(body("l8-budget"), lambda slo, days: (1 - slo) * days * 24)
    assert not passed and message == "error_budget(0.999, 30) returned 0.72, expected 43.2"


def test_pages_on_the_long_window_alone_fail_with_the_burn_rates_of_the_first_wrong_minute():
    def long_only(bad, slo):
        return [m for m, (fast, slow) in enumerate(zip(eb.burn_rates(bad, slo, 60), eb.burn_rates(bad, slo, 360)))
                if fast >= 14.4 or slow >= 6]

    passed, message = verdict(body("l8-alerts"), long_only)
    assert not passed
    assert "a 30-minute outage from minute 600" in message and "minute 659 should not page" in message
    assert "over 5 min" in message and "does not fire" in message


def test_pages_must_be_a_list_of_minutes_in_the_timeline():
    passed, message = verdict(body("l8-alerts"), lambda bad, slo: "600-634")
    assert not passed and "expected a list of minutes" in message
    passed, message = verdict(body("l8-alerts"), lambda bad, slo: [len(bad)])
    assert not passed and "but the timeline has minutes 0 to 1439" in message
    passed, message = verdict(body("l8-alerts"), lambda bad, slo: [1.5])
    assert not passed and "expected a whole number" in message


def test_a_burn_rate_exactly_at_a_threshold_may_page_or_not(monkeypatch):
    exact = [0.006] * 100 + [1.0] * 60 + [0.0] * 100  # burn rate 6, give or take rounding, then an outage

    def strictly_above(bad, slo):
        fast, short = eb.burn_rates(bad, slo, 60), eb.burn_rates(bad, slo, 5)
        slow, middle = eb.burn_rates(bad, slo, 360), eb.burn_rates(bad, slo, 30)
        return [m for m in range(len(bad)) if (fast[m] > 14.4 + 1e-6 and short[m] > 14.4 + 1e-6)
                or (slow[m] > 6 + 1e-6 and middle[m] > 6 + 1e-6)]

    monkeypatch.setattr(checks, "timelines", lambda: [("a burn rate of exactly 6", exact, 0.999)])
    assert strictly_above(exact, 0.999) != eb.page_minutes(exact, 0.999)
    assert verdict(body("l8-alerts"), strictly_above) == (True, "")
    passed, message = verdict(body("l8-alerts"), lambda bad, slo: [])
    assert not passed and "minute 100 should page" in message


def test_a_plan_that_raises_or_costs_too_much_fails_with_what_went_wrong():
    def falls_back_on_pricing(plan):
        plan.protect("frontend", "pricing", Fallback(), Timeout(0.3))

    passed, message = verdict(body("l8-costs"), falls_back_on_pricing)
    assert not passed and message.startswith("protect(plan) raised ValueError: a Fallback on frontend -> pricing")

    def unbudgeted(plan):
        plan.protect("frontend", "catalog", Retry(3, Backoff("full", 0.01, 0.1)), Timeout(0.3))

    passed, message = verdict(body("l8-costs"), unbudgeted)
    assert not passed and "catalog received" in message and "the costs allow 1.5" in message
    passed, message = verdict(body("l8-example-month"), unbudgeted)
    assert not passed and "the costs allow 1.5" in message

    passed, message = verdict(body("l8-costs"), lambda plan: plan.add_workers("pricing", 5))
    assert not passed and message == "the plan adds 15 workers (each instance counts); the costs allow 12"


def test_a_plan_for_the_example_month_alone_passes_it_and_fails_the_months_it_never_saw():
    assert verdict(body("l8-example-month"), features_and_pricing_only) == (True, "")
    passed, message = verdict(checks.check_unseen_months, features_and_pricing_only, TEST_SEEDS)
    assert not passed and message.startswith("the SLO was missed in ")
    missed = int(message.split("missed in ")[1].split(" of")[0])
    assert missed >= 3  # of 5
    passed, message = verdict(body("l8-example-month"), lambda plan: None)
    assert not passed and "under the SLO of 99.9%" in message and "reviews down" in message


def test_the_hidden_check_file_reads_protect_and_names_exercise_8():
    release = Release(ROOT / "exercises")
    (hidden,) = batch.load_extra_checks([HIDDEN], release)
    assert (hidden.id, hidden.points, hidden.exercise, hidden.names) == \
        ("l8-unseen-months", 4, "08-capstone", ["protect"])
    assert "l8-unseen-months" not in REGISTRY  # an instructor's check never joins the released ones


def _job(exercise, cell_id, source, tmp_path):
    notebook = nbformat.read(ROOT / "solutions" / f"{exercise}.ipynb", as_version=4)
    next(c for c in notebook.cells if c.get("id") == cell_id).source = source
    path = tmp_path / f"{exercise}.ipynb"
    nbformat.write(notebook, path)
    (job,) = batch.prepare([str(path)], Release(ROOT / "exercises"), [], Limits(), runner.Package.installed(), False)
    return job


def test_the_patterns_are_exercise_8s_tools_and_are_not_flagged_but_the_world_still_is(tmp_path):
    uses_world = ("from resilience_lab.world import CLIENT\n\n"
                  "def protect(plan):\n    plan.protect(CLIENT, 'frontend', Deadline(1.0))\n")
    job = _job("08-capstone", "cell-10", uses_world, tmp_path)
    assert runner.tools(job) == ("resilience_lab.patterns",)
    _, flags = runner.program(job)
    assert flags == ["imports the reference implementation: code cell 6 imports resilience_lab.world",
                     "imports the reference implementation: code cell 6 imports resilience_lab.world.CLIENT"]
    breaker = _job("03-circuit-breaker", "cell-04", "from resilience_lab.patterns import CircuitBreaker as Breaker",
                   tmp_path)
    assert runner.tools(breaker) == ()
    assert any("imports resilience_lab.patterns" in flag for flag in runner.program(breaker)[1])


def test_plan_data_is_plain_and_says_what_protect_raised():
    data = checks.plan_data(solution_protect)
    assert set(data) == {"plan"} and lesson.Plan.from_data(data["plan"]).key() == good_plan().key()

    def typo(plan):
        plan.protect("frontend", "pricng", Timeout(0.3))

    raised = checks.plan_data(typo)["raised"]
    assert raised.startswith("protect(plan) raised ValueError: no calls go from 'frontend' to 'pricng'")


def test_data_the_answer_process_sends_is_checked_again_in_the_grader(monkeypatch):
    forged = {"workers": {}, "objects": [{"kind": "Timeout", "seconds": 0.3}], "routes": [["frontend", "db", [0]]]}
    monkeypatch.setattr(checks, "plan_data", lambda protect: {"plan": forged})
    with pytest.raises(CheckFailed, match="the plan cannot be used: no calls go from 'frontend' to 'db'"):
        checks.student_plan(solution_protect)
    monkeypatch.setattr(checks, "plan_data", lambda protect: "a plan, trust me")
    with pytest.raises(CheckFailed, match="recording the plan returned 'a plan, trust me'"):
        checks.student_plan(solution_protect)


def test_the_unseen_seeds_never_travel_to_the_students_process():
    """In the grader the student's protect is a proxy: the only way to reach it is a
    measurement request. The hidden check sends one, with protect alone."""
    sent = []

    class Proxy:
        def _rl_measure(self, key, args, kwargs):
            sent.append((key, args, kwargs))
            return checks.plan_data.__wrapped__(solution_protect)

        def __call__(self, *args, **kwargs):
            raise AssertionError("the grader called the student's function directly")

    proxy = Proxy()
    checks.check_unseen_months(proxy, [987654321, 24680])
    assert sent and all(key == "resilience_lab.checks.lesson08:plan_data" and args == (proxy,) and kwargs == {}
                        for key, args, kwargs in sent)
    assert "987654321" not in repr(sent)
