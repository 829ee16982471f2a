"""Released exercises, reading submissions, and putting check cells back.

A released exercise is a notebook in the release folder (by default the
repository's ``exercises/``) with ``metadata.resilience_lab.exercise``. Its
graded check cells carry ``metadata.resilience_lab = {"check": ID, "points": N}``.
Nothing here depends on a lesson: exercise 02, 03, ... grade as soon as their
notebook is in the release folder and their checks in ``resilience_lab/checks/``.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

class InvalidSubmission(ValueError):
    """A submission that cannot be graded; the message is the row's reason."""


@dataclass
class CheckCell:
    id: str  # the check id (metadata)
    cell_id: str
    points: int
    source: str
    anchor: list[str]  # ids of the release cells before it, nearest first
    #: the names the cell passes to its check, in order: ``checks.check_backlog(backlog)`` -> ["backlog"]
    arguments: list[str] = field(default_factory=list)


def check_arguments(source: str) -> list[str]:
    """The names a released check cell passes to its check function (its one call)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if len(calls) != 1 or calls[0].keywords or not all(isinstance(a, ast.Name) for a in calls[0].args):
        raise ValueError(f"a released check cell must call its check once with plain names: {source!r}")
    return [a.id for a in calls[0].args]


@dataclass
class Exercise:
    name: str
    title: str
    notebook: object  # nbformat node
    checks: list[CheckCell]

    @property
    def maximum(self) -> int:
        return sum(c.points for c in self.checks)


def check_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("resilience_lab", {})
    return meta if isinstance(meta, dict) and "check" in meta else {}


class Release:
    """The released exercises in a folder, by exercise name."""

    def __init__(self, folder):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"release folder {self.folder} does not exist "
                                    "(pass --release DIR: the folder of released exercise notebooks)")
        self.exercises: dict[str, Exercise] = {}
        for path in sorted(self.folder.glob("*.ipynb")):
            notebook = nbformat.read(path, as_version=4)
            meta = notebook.metadata.get("resilience_lab", {})
            name = meta.get("exercise")
            if not name:
                continue
            checks, before = [], []
            for cell in notebook.cells:
                info = check_meta(cell)
                if info:
                    checks.append(CheckCell(info["check"], cell.get("id", ""), int(info.get("points", 0)),
                                            cell.source, list(reversed(before)), check_arguments(cell.source)))
                before.append(cell.get("id", ""))
            if name in self.exercises:
                raise ValueError(f"two released notebooks claim exercise {name!r}")
            self.exercises[name] = Exercise(name, meta.get("title", name), notebook, checks)
        if not self.exercises:
            raise FileNotFoundError(f"no released exercise notebooks in {self.folder}")

    def identify(self, notebook) -> Exercise:
        """The exercise a notebook is from: its metadata, else the check ids it carries."""
        meta = notebook.metadata.get("resilience_lab", {})
        name = meta.get("exercise") if isinstance(meta, dict) else None
        if name:
            if name not in self.exercises:
                raise InvalidSubmission(f"unknown exercise {name!r} (released: {', '.join(sorted(self.exercises))})")
            return self.exercises[name]
        ids = {check_meta(c).get("check") for c in notebook.cells} - {None}
        matches = [e for e in self.exercises.values() if ids & {c.id for c in e.checks}]
        if len(matches) == 1:
            return matches[0]
        raise InvalidSubmission("not a resilience-lab exercise: no metadata.resilience_lab.exercise "
                                "and no graded check cells")


def read_notebook(data: bytes):
    """Parse a submission's bytes, or raise :class:`InvalidSubmission` saying why."""
    if not data.strip():
        raise InvalidSubmission("empty file")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidSubmission("not a notebook: the file is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InvalidSubmission(f"invalid JSON: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise InvalidSubmission("not a notebook: JSON without a list of cells")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # nbformat raises several kinds for malformed notebooks
        raise InvalidSubmission(f"not a readable notebook: {type(error).__name__}: {error}") from None
    for cell in notebook.cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
            raise InvalidSubmission("not a readable notebook: a cell without a type or source")
    return notebook


def restore_checks(notebook, exercise: Exercise):
    """A copy of ``notebook`` whose graded check cells are exactly the released ones.

    The first cell claiming a check (by metadata check id, or by the released
    cell's id) is replaced by the released cell; later copies are dropped. A
    missing check is inserted after the nearest earlier release cell that the
    submission still has (else at the end). Cells claiming checks the release
    does not have become ordinary cells. Returns ``(notebook, changes)``, with a
    list of what was restored, for the feedback page.
    """
    notebook = copy.deepcopy(notebook)
    released = {c.id: c for c in exercise.checks}
    by_cell_id = {c.cell_id: c for c in exercise.checks if c.cell_id}
    placed, cells, changes = set(), [], []
    for cell in notebook.cells:
        claim = check_meta(cell).get("check")
        check = released.get(claim) or by_cell_id.get(cell.get("id"))
        if check is None:
            if claim:
                cell.metadata.pop("resilience_lab", None)
            cells.append(cell)
            continue
        if check.id in placed:
            changes.append(f"removed a duplicate of check {check.id}")
            continue
        placed.add(check.id)
        if cell.source != check.source or check_meta(cell).get("points") != check.points:
            changes.append(f"restored the edited check cell {check.id}")
        cells.append(_released_cell(check))
    for check in exercise.checks:
        if check.id in placed:
            continue
        changes.append(f"re-inserted the deleted check cell {check.id}")
        ids = [c.get("id") for c in cells]
        position = len(cells)
        for anchor in check.anchor:
            if anchor in ids:
                position = ids.index(anchor) + 1
                break
        cells.insert(position, _released_cell(check))
        placed.add(check.id)
    notebook.cells = cells
    return notebook, changes


def _released_cell(check: CheckCell):
    cell = nbformat.v4.new_code_cell(check.source, metadata={"resilience_lab": {"check": check.id,
                                                                                "points": check.points}})
    if check.cell_id:
        cell.id = check.cell_id
    return cell
