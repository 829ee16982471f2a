"""The mutation suite: do the checks tell right from wrong?

For every exercise, ``tests/mutations/exNN.py`` holds correct answers written
differently from the solution and realistic mistakes, each naming the check that
must catch it. All of them are graded by the real grader in one batch; every
correct variant must get full marks and no flag, and every mistake must fail the
check it names, with a message (never "not reached").
"""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from resilience_lab.grading import grade, sandbox

ROOT = Path(__file__).resolve().parent.parent


def _load(path):
    spec = importlib.util.spec_from_file_location(f"mutations_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = [_load(p) for p in sorted((ROOT / "tests" / "mutations").glob("ex*.py"))]
#: Exercise -> its module's name (ex05): test ids start with it, so `-k ex05` selects one exercise.
MODULE_OF = {m.EXERCISE: m.__name__.removeprefix("mutations_") for m in MODULES}
#: Instructor-only checks some exercises are graded with (a module's EXTRA_CHECKS, a path beside it).
EXTRA_CHECKS = [str(ROOT / "tests" / "mutations" / m.EXTRA_CHECKS) for m in MODULES if hasattr(m, "EXTRA_CHECKS")]
VARIANTS = [(m.EXERCISE, "correct", name, cells, None) for m in MODULES for name, cells in m.CORRECT.items()] + \
           [(m.EXERCISE, "wrong", name, cells, check) for m in MODULES for name, (cells, check) in m.WRONG.items()]


def _notebook(exercise, cells):
    notebook = nbformat.read(ROOT / "solutions" / f"{exercise}.ipynb", as_version=4)
    ids = {c.get("id"): c for c in notebook.cells}
    for cell_id, source in cells.items():
        assert cell_id in ids and ids[cell_id].cell_type == "code", f"{exercise} has no code cell {cell_id}"
        ids[cell_id].source = source
    return notebook


@pytest.fixture(scope="module")
def graded(tmp_path_factory, request):
    """Every variant the session selected (``-k`` narrows it), graded in one batch."""
    selected = {tuple(item.callspec.params[k] for k in ("exercise", "kind", "name"))
                for item in request.session.items if getattr(item, "originalname", None) == "test_variant"}
    folder = tmp_path_factory.mktemp("mutations")
    paths = []
    for exercise, kind, name, cells, _ in VARIANTS:
        if (exercise, kind, name) not in selected:
            continue
        path = folder / exercise / f"{kind}--{name}.ipynb"
        path.parent.mkdir(exist_ok=True)
        nbformat.write(_notebook(exercise, cells), path)
        paths.append(str(path))
    rows = grade(paths, folder / "grades", release=ROOT / "exercises", workers=2, sandboxed=sandbox.available(),
                 extra_checks=EXTRA_CHECKS)
    return {(Path(r["file"]).parent.name, Path(r["file"]).stem): r for r in rows}


def test_every_exercise_has_enough_variants():
    exercises = {p.stem for p in (ROOT / "exercises").glob("*.ipynb")}
    for module in MODULES:
        assert len(module.CORRECT) >= 3 and len(module.WRONG) >= 8, module.__name__
    assert exercises <= {m.EXERCISE for m in MODULES}, "an exercise without a mutation module"


@pytest.mark.parametrize("exercise, kind, name, cells, check", VARIANTS,
                         ids=[f"{MODULE_OF[e]}:{e}:{k}:{n}" for e, k, n, _, _ in VARIANTS])
def test_variant(graded, exercise, kind, name, cells, check):
    row = graded[(exercise, f"{kind}--{name}")]
    failed = {c: e["message"] for c, e in row["checks"].items() if not e["passed"]}
    if kind == "correct":
        assert (row["status"], row["total"], failed, row["flags"]) == ("ok", row["maximum"], {}, []), \
            json.dumps({k: row[k] for k in ("status", "reason", "flags", "cell_errors")} | {"failed": failed}, indent=1)
    else:
        assert row["status"] == "ok", (row["status"], row["reason"])
        assert check in failed, f"{exercise} {name}: no check caught it (all passed but {sorted(failed)})"
        assert failed[check] and not failed[check].startswith("not reached"), failed[check]
