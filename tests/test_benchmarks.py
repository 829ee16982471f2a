"""The benchmark harness itself (no timings are asserted: benchmarks report, tests do not time)."""

import ipywidgets as widgets
import nbformat
import pytest

import benchmarks
from benchmarks import __main__ as runner
from benchmarks import engine, grading, nbgrader_side, teardown, widgets as widget_bench


def test_every_benchmark_module_is_discovered():
    found = runner.discover()
    assert {"engine", "widgets", "course", "teardown", "capstone"} <= set(found)
    assert all(callable(module.run) for module in found.values())


def test_percentile_interpolates_like_numpy():
    assert benchmarks.percentile([1, 2, 3, 4], 50) == 2.5
    assert benchmarks.percentile([10, 0, 20], 95) == pytest.approx(19.0)
    with pytest.raises(ValueError):
        benchmarks.percentile([], 50)


def test_bare_and_world_models_serve_the_same_load():
    # The ratio compares like with like: both finish about the requests offered.
    n = 2000
    assert engine.bare(n, seed=3) == n
    assert abs(engine.world_run(n, seed=3, chain_name="pass-through") - n) < 5 * n**0.5
    assert abs(engine.world_run(n, seed=3, chain_name="timeout+breaker+retry") - n) < 5 * n**0.5


def test_the_teardown_benchmark_really_ends_with_its_queue():
    # The ratio means "cost of N queued calls" only if the run ends with about N queued.
    assert 1_900 <= teardown.run_and_tear_down(2_000, seed=1) <= 2_000


@pytest.mark.parametrize("control", [
    widgets.IntSlider(value=0, min=0, max=1000, step=10),
    widgets.FloatSlider(value=0.5, min=0.1, max=1.0, step=0.05),
    widgets.FloatSlider(value=10.0, min=2.0, max=18.0, step=1.0),
])
def test_slider_values_stay_in_range_and_always_change(control):
    values = widget_bench.slider_values(control, 30)
    assert len(values) == 30
    assert all(control.min <= v <= control.max for v in values)
    assert values[0] != control.value
    assert all(a != b for a, b in zip(values, values[1:]))


def test_a_burst_of_changes_runs_far_fewer_times_than_it_changes():
    panel = widget_bench.reference_panel()
    runs, _ = widget_bench.latest_wins(panel, changes=10)
    assert 1 <= runs <= 3


def test_the_nbgrader_assignment_has_five_answers_and_five_one_point_tests():
    source = nbgrader_side.source_notebook()
    meta = [c.metadata["nbgrader"] for c in source.cells if "nbgrader" in c.metadata]
    answers = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    tests = [m for m in meta if m["grade"]]
    assert len(answers) == 5 and all("### BEGIN SOLUTION" in c.source for c in answers)
    assert len(tests) == 5 and all(m["points"] == 1 and m["locked"] and not m["solution"] for m in tests)
    assert len({m["grade_id"] for m in meta}) == 10 and all(m["schema_version"] == 3 for m in meta)
    student = nbgrader_side.answered(source)
    nbformat.validate(student)
    namespace = {}
    for cell in student.cells:
        if cell.cell_type == "code":
            exec(cell.source, namespace)  # every test cell's assert holds for the answers
    assert "BEGIN SOLUTION" not in "".join(c.source for c in student.cells)


def test_nbgrader_that_cannot_be_installed_is_reported_as_skipped(monkeypatch):
    def unavailable(**kwargs):
        raise nbgrader_side.Unavailable("pip install failed (exit 1): no network")

    monkeypatch.setattr(nbgrader_side, "prepare", unavailable)
    result = grading.run(count=1, only=["nbgrader"], repeat=1, log=lambda text: None)
    assert result["five"]["status"] == {"nbgrader": "skipped"}
    assert any("skipped" in line and "no network" in line for line in result["lines"])


def test_the_teardown_comparison_with_simpys_list_still_runs():
    """The benchmark's baseline swaps the pool's waiting line back to SimPy's list."""
    from resilience_lab.world.service import WorkerPool

    kept = WorkerPool.PutQueue, WorkerPool._trigger_put
    compared = teardown.with_simpy_list(200, 400, repeats=1)
    assert compared["ratio_median"] > 0 and (WorkerPool.PutQueue, WorkerPool._trigger_put) == kept


def test_the_capstone_benchmark_grades_the_solution_with_the_unseen_months(tmp_path):
    from benchmarks import capstone

    seconds, row = capstone.grade_seconds("08-capstone", [str(capstone.HIDDEN)], tmp_path)
    assert row["status"] == "ok" and row["total"] == row["maximum"] and seconds > 0
    assert "l8-unseen-months" in row["checks"]  # the hidden months were graded, not only the example
