"""The exercise generator: solution regions become stubs; malformed markers are refused."""

import nbformat
import pytest

from resilience_lab import authoring
from resilience_lab.cli import main


def test_a_solution_region_becomes_one_stub_at_its_indentation():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\nprint(f)"
    assert authoring.strip_code(source) == (
        "def f(x):\n    '''doc'''\n    raise NotImplementedError(\"write your code here\")\n\nprint(f)"
    )


@pytest.mark.parametrize("source, words", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_malformed_markers_are_refused(source, words):
    with pytest.raises(authoring.AuthoringError, match=words):
        authoring.strip_code(source, "cell 3")


def make_solution(path):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    code.outputs = [nbformat.v4.new_output("stream", text="hi")]
    code.execution_count = 3
    md = nbformat.v4.new_markdown_cell("Why?\n<!-- BEGIN SOLUTION -->Because.<!-- END SOLUTION -->")
    check = nbformat.v4.new_code_cell("checks.check_f(f)", metadata={"resilience_lab": {"check": "x", "points": 1}})
    nb.cells = [code, md, check]
    nbformat.write(nb, path)
    return nb


def test_make_exercise_strips_answers_outputs_and_locks_checks(tmp_path):
    solution = make_solution(tmp_path / "s.ipynb")
    exercise = authoring.make_exercise(solution)
    code, md, check = exercise.cells
    assert "return 1" not in code.source and code.outputs == [] and code.execution_count is None
    assert md.source == "Why?\n*Your answer here.*"
    assert check.metadata["editable"] is False and check.metadata["deletable"] is False
    assert "return 1" in solution.cells[0].source  # the solution itself is untouched


def test_cli_writes_then_reports_up_to_date_and_check_detects_drift(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    make_solution(tmp_path / "solutions" / "01-x.ipynb")
    args = ["make-exercises", "--solutions", str(tmp_path / "solutions"), "--exercises", str(tmp_path / "exercises")]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0 and (tmp_path / "exercises" / "01-x.ipynb").exists()
    assert main([*args, "--check"]) == 0
    (tmp_path / "exercises" / "01-x.ipynb").write_text("{}")
    assert main([*args, "--check"]) == 1
    assert "out of date" in capsys.readouterr().out
