"""Notebooks: committed clean, runnable kernels, exercises in sync, checks that
fail on the untouched exercise and pass on the solution."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from resilience_lab import authoring
from resilience_lab.checks import REGISTRY, load_all

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
SOLUTIONS = sorted(ROOT.glob("solutions/*.ipynb"))
LESSONS = sorted(ROOT.glob("notebooks/*.ipynb"))
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


@pytest.mark.parametrize("path", [*LESSONS, *SOLUTIONS], ids=names([*LESSONS, *SOLUTIONS]))
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


STATED = re.compile(r"should show `([^`]+)`")


@pytest.mark.parametrize("path", SOLUTIONS, ids=names(SOLUTIONS))
def test_every_graded_check_passes_on_the_solution_and_by_hand_cells_show_what_the_text_says(path):
    notebook = run_notebook(path)
    for cell in graded_cells(notebook):
        check = cell.metadata["resilience_lab"]["check"]
        text, errors = outcome(cell)
        assert not errors and f"PASS  {check}" in text, text
    # "The cell should show `(...)`" in a markdown cell: the next code cell's result is exactly that.
    for index, cell in enumerate(notebook.cells):
        for stated in STATED.findall(cell.source) if cell.cell_type == "markdown" else []:
            shown = next(c for c in notebook.cells[index + 1:] if c.cell_type == "code")
            results = [o.data["text/plain"] for o in shown.outputs if o.output_type == "execute_result"]
            assert results == [stated], f"cell {index} says the next cell shows {stated}; it shows {results}"


LINK = re.compile(r"\[[^\]]+\]\(https?://[^)\s]+\)")


@pytest.mark.parametrize("path", LESSONS, ids=names(LESSONS))
def test_lesson_ends_with_what_comes_next_and_further_reading(path):
    notebook = nbformat.read(path, as_version=4)
    last = notebook.cells[-1].source
    summary, _, reading = last.partition("### Further reading")
    assert len(LINK.findall(reading)) >= 2, "a Further reading with at least two links, after the summary"
    if (ROOT / "exercises" / path.name).exists():
        assert f"**Next:** the exercise `exercises/{path.name}`" in summary
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "source lesson" not in text, "name what you cite: 'the source lesson' means nothing to a student"


@pytest.mark.parametrize("path", EXERCISES, ids=names(EXERCISES))
def test_exercise_says_how_to_get_its_score_before_handing_in(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert f"`make grade NB=exercises/{path.name}`" in text
    assert f"`.venv/bin/resilience-lab grade --out grades/self exercises/{path.name}`" in text
