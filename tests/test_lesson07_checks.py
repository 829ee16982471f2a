"""Exercise 7's checks pass the solution's answers and catch the classic wrong experiments.

(The mutation suite grades more variants through the real grader; these run the checks
in-process, quickly, on the same answers.)"""

import copy
import importlib.util
from pathlib import Path

import pytest

from resilience_lab.checks import REGISTRY, verdict
from resilience_lab.checks import lesson07 as checks
from resilience_lab.lessons import chaos

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("ex07", ROOT / "tests" / "mutations" / "ex07.py")
ex07 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ex07)

EXPERIMENT_CHECKS = ["l7-valid", "l7-exposes", "l7-not-vacuous", "l7-abort"]


def solution():
    return copy.deepcopy(ex07.SOLUTION)


def protect(world):
    return world.protect("web", "reviews", chaos.Fallback(), chaos.Timeout(0.3))


def untouched(*args):
    raise NotImplementedError("write your code here")


@pytest.mark.parametrize("check_id", EXPERIMENT_CHECKS)
def test_the_solution_s_experiment_passes(check_id):
    assert verdict(REGISTRY[check_id].body, solution) == (True, "")


def test_the_solution_s_fix_passes():
    assert verdict(REGISTRY["l7-fix"].body, protect) == (True, "")


@pytest.mark.parametrize("check_id", [*EXPERIMENT_CHECKS, "l7-fix"])
def test_an_untouched_answer_fails_every_check(check_id):
    passed, why = verdict(REGISTRY[check_id].body, untouched)
    assert not passed and "not implemented yet" in why


def test_the_lesson_world_s_reference_fix_is_the_shop_s_too():
    """The shop's fixed world is the weak one with the solution's fix."""
    fixed, patched = chaos.shop_world_fixed(), protect(chaos.shop_world())
    assert fixed.policies.keys() == patched.policies.keys()
    assert str(fixed.run(5).end[:50]) == str(patched.run(5).end[:50])


@pytest.mark.parametrize("name", [n for n, (_, check) in ex07.WRONG.items() if check != "l7-fix"
                                  and n in ("errors-do-not-find-a-slow-dependency", "vacuous-tolerances",
                                            "one-probe-that-can-never-fail", "no-abort-criteria",
                                            "abort-criteria-that-never-fire", "no-rollback",
                                            "a-shell-command-as-provider")])
def test_wrong_experiments_fail_their_check_with_a_message(name):
    cells, check_id = ex07.WRONG[name]
    namespace = {}
    exec(cells["cell-06"], namespace)
    passed, why = verdict(REGISTRY[check_id].body, namespace["experiment"])
    assert not passed and why


def test_a_vacuous_probe_is_named(monkeypatch):
    cells, _ = ex07.WRONG["one-probe-that-can-never-fail"]
    namespace = {}
    exec(cells["cell-06"], namespace)
    _, why = verdict(REGISTRY["l7-not-vacuous"].body, namespace["experiment"])
    assert "users' requests failed" in why and "can never fail" in why


def test_the_abort_check_compares_with_the_same_experiment_without_abort_criteria():
    weak = chaos.run_experiment(solution(), chaos.shop_world())
    unchecked = chaos.run_experiment(chaos.without_abort(solution()), chaos.shop_world())
    assert weak.aborted is not None
    assert weak.users_failed() <= checks.ABORT_SHARE * unchecked.users_failed()


def test_the_experiment_of_a_student_never_runs_a_process():
    cells, _ = ex07.WRONG["a-shell-command-as-provider"]
    namespace = {}
    exec(cells["cell-06"], namespace)
    passed, why = verdict(REGISTRY["l7-exposes"].body, namespace["experiment"])
    assert not passed and "every provider here is of type 'python'" in why
