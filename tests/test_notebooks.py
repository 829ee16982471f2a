"""Notebooks: committed clean, runnable kernels, exercises in sync, checks that
fail on the untouched exercise and pass on the solution."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from resilience_lab import authoring
from resilience_lab.checks import REGISTRY, load_all

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
SOLUTIONS = sorted(ROOT.glob("solutions/*.ipynb"))
EXERCISES = sorted(ROOT.glob("exercises/*.ipynb"))


def names(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def graded_cells(notebook):
    return [c for c in notebook.cells if "check" in c.metadata.get("resilience_lab", {})]


def test_every_solution_has_an_exercise_and_a_lesson():
    assert SOLUTIONS, "no solution notebooks found"
    for solution in SOLUTIONS:
        assert (ROOT / "exercises" / solution.name).exists()
        assert (ROOT / "notebooks" / solution.name).exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=names(NOTEBOOKS))
def test_notebook_is_committed_clean_with_a_kernel(path):
    raw = json.loads(path.read_text())
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in raw["metadata"]


@pytest.mark.parametrize("path", [*ROOT.glob("notebooks/*.ipynb"), *SOLUTIONS], ids=names([*ROOT.glob("notebooks/*.ipynb"), *SOLUTIONS]))
def test_lesson_states_its_goals_and_ends_with_a_summary(path):
    notebook = nbformat.read(path, as_version=4)
    first, last = notebook.cells[0].source, notebook.cells[-1].source
    assert "You will be able to" in first or "you will be able to" in first.lower()
    assert last.startswith("## Summary")


def test_exercises_are_generated_from_the_solutions():
    assert authoring.make_exercises(ROOT / "solutions", ROOT / "exercises", check=True) == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=names(SOLUTIONS))
def test_check_cells_carry_the_registry_points_and_an_exercise_id(path):
    load_all()
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["resilience_lab"]["exercise"] == path.stem
    cells = graded_cells(notebook)
    assert cells, "an exercise without graded checks"
    ids = [c.metadata["resilience_lab"]["check"] for c in cells]
    assert len(set(ids)) == len(ids)
    for cell in cells:
        meta = cell.metadata["resilience_lab"]
        assert REGISTRY[meta["check"]].points == meta["points"]
        assert REGISTRY[meta["check"]].function.__name__ in cell.source


def run_notebook(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def outcome(cell):
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return text, errors


@pytest.mark.parametrize("path", EXERCISES, ids=names(EXERCISES))
def test_every_graded_check_fails_on_the_untouched_exercise(path):
    for cell in graded_cells(run_notebook(path)):
        check = cell.metadata["resilience_lab"]["check"]
        text, errors = outcome(cell)
        assert f"FAIL  {check}" in text and "hint:" in text, text
        assert errors and errors[0].ename == "CheckFailed", f"{check} did not raise"


@pytest.mark.parametrize("path", SOLUTIONS, ids=names(SOLUTIONS))
def test_every_graded_check_passes_on_the_solution(path):
    for cell in graded_cells(run_notebook(path)):
        check = cell.metadata["resilience_lab"]["check"]
        text, errors = outcome(cell)
        assert not errors and f"PASS  {check}" in text, text
