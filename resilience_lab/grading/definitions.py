"""Which of a notebook's statements the answer process runs: the graded
definitions, found by name, and the helpers they use.

A check cell names what it grades: ``checks.check_backlog(backlog)`` grades
``backlog``; an instructor's hidden check names what it reads as
``student["backlog"]``. The answer process (:mod:`.answers`) must have those
names, and nothing else of the notebook should run there: not the demo cells,
not the plots, not whatever else a notebook does at its top level.

The rule: a top-level statement of a student cell is kept when it binds a
needed name (a ``def``, a ``class``, an import, an assignment, or a compound
statement with one of those inside); the global names it uses (in its own body,
its decorators, default values and base classes, and inside the functions and
classes it defines) are then needed too, until nothing new is needed.
``from x import *`` is always kept. Kept statements run in notebook order, so a
name defined twice ends with its last definition; a *mark* after the last
statement before each check records which object each graded name was at that
point of the notebook, as the check cell saw it.

IPython syntax (``%magic``, ``!command``) is turned into Python first; a cell
that still does not parse is left out (the notebook's run reports its
``SyntaxError`` among the cells that raised).
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass


@dataclass
class Statement:
    cell: int  # the code cell's number in the notebook (1-based)
    first_line: int
    source: str
    binds: frozenset
    uses: frozenset
    star: bool = False


def _transform(source: str) -> str:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # the grader's machine without IPython: plain Python only
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython's transformer gives up on some broken cells: leave them to ast
        return source


def _global_uses(table: symtable.SymbolTable, top: bool) -> set[str]:
    names = set()
    for symbol in table.get_symbols():
        if top and symbol.is_referenced():
            names.add(symbol.get_name())
        elif not top and symbol.is_global() and (symbol.is_referenced() or symbol.is_assigned()):
            names.add(symbol.get_name())
    for child in table.get_children():
        names |= _global_uses(child, False)
    return names


def _top_binds(table: symtable.SymbolTable) -> set[str]:
    return {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()
            or s.is_namespace()}


def statements(cells: list[tuple[int, str]]) -> list[Statement]:
    """The top-level statements of ``cells`` (``(cell number, source)``)."""
    found = []
    for number, raw in cells:
        source = _transform(raw)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        lines = source.splitlines()
        last_end = 0
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            first = max(first, last_end + 1)  # two statements on one line ("a = 1; b = 2") go together
            if first > node.end_lineno:
                found[-1].binds |= _binds_of(node)
                continue
            text = "\n".join(lines[first - 1:node.end_lineno])
            last_end = node.end_lineno
            try:
                table = symtable.symtable(text, f"<cell {number}>", "exec")
            except SyntaxError:  # e.g. a `return` outside a function: it fails in the notebook too
                continue
            star = isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
            found.append(Statement(number, first, text, frozenset(_top_binds(table)),
                                   frozenset(_global_uses(table, True)), star))
    return found


def _binds_of(node) -> frozenset:
    table = symtable.symtable(ast.unparse(node), "<statement>", "exec")
    return frozenset(_top_binds(table))


def select(found: list[Statement], names) -> list[int]:
    """Indexes (in notebook order) of the statements that ``names`` need."""
    needed, kept = set(names), set()
    changed = True
    while changed:
        changed = False
        for index, statement in enumerate(found):
            if index not in kept and (statement.star or statement.binds & needed):
                kept.add(index)
                needed |= statement.uses
                changed = True
    return sorted(kept)
