"""Authoring: the exercise notebooks are generated from the solution notebooks.

In a solution notebook, the code a student must write sits between two marker
lines::

    def max_throughput(workers, latency):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        return workers / latency
        ### END SOLUTION

:func:`make_exercise` replaces each such region by one stub line, indented
like the ``BEGIN`` marker: ``raise NotImplementedError("write your code here")``.
In Markdown cells, ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->``
becomes ``*Your answer here.*``. Outputs and execution counts are dropped, and
graded check cells (metadata ``resilience_lab.check``) are locked against
editing and deletion in JupyterLab.

``resilience-lab make-exercises`` writes ``exercises/`` from ``solutions/``;
``--check`` only reports which exercises differ from what it would write (the
test suite runs it that way, so the two folders cannot drift).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB = 'raise NotImplementedError("write your code here")'
MD_STUB = "*Your answer here.*"
_MD_REGION = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.S)


class AuthoringError(ValueError):
    """A solution notebook's markers are malformed."""


def strip_code(source: str, where: str = "a cell") -> str:
    """``source`` with every solution region replaced by the stub line."""
    out, inside = [], False
    for number, line in enumerate(source.splitlines(), 1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise AuthoringError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise AuthoringError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise AuthoringError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def has_solution(cell) -> bool:
    return BEGIN in cell.source or MD_BEGIN in cell.source


def clean(notebook):
    """Drop outputs, execution counts and per-run metadata, in place; returns it."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    notebook.metadata.pop("widgets", None)
    return notebook


def make_exercise(solution):
    """The student's notebook made from a solution notebook (which is not changed)."""
    exercise = clean(copy.deepcopy(solution))
    for number, cell in enumerate(exercise.cells, 1):
        where = f"cell {number}"
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, where)
        elif cell.cell_type == "markdown":
            cell.source = _MD_REGION.sub(MD_STUB, cell.source)
        if "check" in cell.metadata.get("resilience_lab", {}):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return exercise


def dumps(notebook) -> str:
    """The one serialisation used for committed notebooks (stable diffs)."""
    return nbformat.writes(notebook) + "\n"


def make_exercises(solutions: Path, exercises: Path, *, check: bool = False) -> list[Path]:
    """Generate ``exercises/`` from ``solutions/``; returns the exercise files that
    changed (with ``check=True``: that would change; nothing is written)."""
    changed = []
    for source in sorted(Path(solutions).glob("*.ipynb")):
        target = Path(exercises) / source.name
        text = dumps(make_exercise(nbformat.read(source, as_version=4)))
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    return changed
