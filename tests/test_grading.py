"""The auto-grader (issue 5) on a corpus of submissions made for the purpose.

One grading run over the whole corpus (tests/grading_corpus/submissions, built by
tests/grading_corpus/build.py) is shared by the tests below; each states the
status and points one kind of submission must get.
"""

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from resilience_lab import cli
from resilience_lab.grading import Limits, Release, grade
from resilience_lab.grading import sandbox

SANDBOXED = sandbox.available()  # CI requires it (tests/conftest.py); elsewhere the corpus grades unsandboxed
from resilience_lab.grading.notebooks import InvalidSubmission, read_notebook, restore_checks

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "grading_corpus"
SUBMISSIONS = CORPUS / "submissions"
EXTRA = CORPUS / "extra_checks.py"
RELEASE = ROOT / "exercises"
CHECKS = ["l1-max-throughput", "l1-fill-time", "l1-backlog", "l1-breaking-latency"]
HIDDEN = ["l1-hidden-one-worker", "l1-hidden-exact-fill"]
# Small limits so the runaway notebooks end quickly; lesson 1's cells need well under a second.
LIMITS = Limits(cell_timeout=10, notebook_timeout=120, memory=1024**3, output=200_000)

FULL = [2, 2, 3, 3]
FIRST_ONLY = [2, 0, 0, 0]
NOTHING = [0, 0, 0, 0]
# file -> (status, points of the four released checks, points of the two hidden checks)
EXPECTED = {
    "correct-different.ipynb": ("ok", FULL, [1, 2]),
    "my homework FINAL (2).ipynb": ("ok", FULL, [1, 2]),
    "correct-lambdas.ipynb": ("ok", FULL, [1, 2]),
    "old-format-no-ids.ipynb": ("ok", FULL, [1, 2]),
    "background-flood.ipynb": ("output", [2, 0, 0, 0], [0, 0]),
    "stripped-metadata.ipynb": ("ok", FULL, [1, 2]),
    "partly-wrong.ipynb": ("ok", [2, 0, 0, 3], [1, 0]),
    "alice/exercise1.ipynb": ("ok", FIRST_ONLY, [1, 0]),
    "alice/scratch.ipynb": ("ok", NOTHING, [0, 0]),
    "edited-checks.ipynb": ("ok", [2, 0, 3, 3], [1, 0]),
    "infinite-loop.ipynb": ("timeout", FIRST_ONLY, [0, 0]),
    "sys-exit.ipynb": ("exited", FIRST_ONLY, [0, 0]),
    "os-exit.ipynb": ("crashed", FIRST_ONLY, [0, 0]),
    "kernel-crash.ipynb": ("crashed", FIRST_ONLY, [0, 0]),
    "memory-bomb.ipynb": ("memory", FIRST_ONLY, [0, 0]),
    "output-flood.ipynb": ("output", FIRST_ONLY, [0, 0]),
    "tamper-replace-checks.ipynb": ("ok", NOTHING, [0, 0]),
    "tamper-assertion.ipynb": ("ok", NOTHING, [0, 0]),
    "tamper-module.ipynb": ("ok", NOTHING, [0, 0]),
    "tamper-sys-modules.ipynb": ("ok", NOTHING, [0, 0]),
    "tamper-package-files.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-fake-guard.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-import-hook.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-mutate-state.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-frame-walk.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-input-transformer.ipynb": ("ok", NOTHING, [0, 0]),
    "attack-huge-answer.ipynb": ("ok", [0, 2, 0, 3], [0, 2]),
}
INVALID = {
    "empty.ipynb": "empty file",
    "invalid-json.ipynb": "invalid JSON",
    "not-a-notebook.ipynb": "not a notebook",
    "essay.txt": "invalid JSON",
    "binary.ipynb": "not UTF-8",
    "unknown-exercise.ipynb": "unknown exercise '99-no-such-exercise'",
}
# Each of these fools the check cells when the notebook runs bare (the next test proves it).
TAMPERING = [name for name in EXPECTED if name.startswith("tamper-")] + [
    "attack-mutate-state.ipynb", "attack-frame-walk.ipynb", "attack-input-transformer.ipynb"]


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def arguments():
    """Every corpus entry as a student would hand it in: alice is a folder, the rest files."""
    return sorted(str(p) for p in SUBMISSIONS.iterdir())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grades")
    corpus_before, package_before = digest(SUBMISSIONS), digest(ROOT / "resilience_lab" / "checks")
    rows = grade(arguments(), out, release=RELEASE, workers=2, extra_checks=[EXTRA], limits=LIMITS,
                 sandboxed=SANDBOXED)
    return {"rows": rows, "out": out, "corpus_before": corpus_before, "package_before": package_before}


def row_of(graded, name):
    matches = [r for r in graded["rows"] if Path(r["file"]).relative_to(SUBMISSIONS).as_posix() == name]
    assert len(matches) == 1, name
    return matches[0]


def test_every_submission_has_exactly_one_row_in_the_order_given(graded):
    files = [Path(r["file"]).relative_to(SUBMISSIONS).as_posix() for r in graded["rows"]]
    assert sorted(files) == sorted([*EXPECTED, *INVALID])
    order = []
    for argument in arguments():
        path = Path(argument)
        order += ([p.relative_to(SUBMISSIONS).as_posix() for p in sorted(path.rglob("*.ipynb"))]
                  if path.is_dir() else [path.name])
    assert files == order


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_status_and_points(graded, name):
    status, points, hidden = EXPECTED[name]
    row = row_of(graded, name)
    got = [row["checks"][c]["points"] for c in CHECKS]
    assert (row["status"], got, [row["checks"][c]["points"] for c in HIDDEN]) == (status, points, hidden), row
    assert row["total"] == sum(points) + sum(hidden)
    assert row["maximum"] == 13
    assert (row["reason"] == "") == (status == "ok"), row["reason"]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_bad_input_is_an_invalid_row_with_a_reason(graded, name):
    row = row_of(graded, name)
    assert row["status"] == "invalid" and INVALID[name] in row["reason"], row
    assert row["total"] == row["maximum"] == 0


def test_a_folder_is_one_student(graded):
    assert {row_of(graded, n)["student"] for n in ["alice/exercise1.ipynb", "alice/scratch.ipynb"]} == {"alice"}
    assert row_of(graded, "correct-different.ipynb")["student"] == "correct-different"


def test_checks_not_reached_are_failed_with_the_reason(graded):
    row = row_of(graded, "infinite-loop.ipynb")
    assert "code cell 4 ran longer than its limit of 10 s" in row["reason"]
    assert row["checks"]["l1-max-throughput"]["reached"] and not row["checks"]["l1-backlog"]["reached"]
    assert row["checks"]["l1-backlog"]["message"].startswith("not reached (timeout")
    assert "SIGSEGV" in row_of(graded, "kernel-crash.ipynb")["reason"]
    assert "code 3" in row_of(graded, "os-exit.ipynb")["reason"]
    assert "MemoryError" in row_of(graded, "memory-bomb.ipynb")["reason"]


def test_restored_check_cells_are_reported(graded):
    assert row_of(graded, "edited-checks.ipynb")["restored"] == [
        "removed a duplicate of check l1-max-throughput",
        "restored the edited check cell l1-fill-time",
        "re-inserted the deleted check cell l1-backlog",
    ]


def test_nothing_on_disk_changes(graded):
    assert digest(SUBMISSIONS) == graded["corpus_before"]
    assert digest(ROOT / "resilience_lab" / "checks") == graded["package_before"]
    if SANDBOXED:  # the package a sandbox sees is read-only
        [error] = row_of(graded, "tamper-package-files.ipynb")["cell_errors"]
        assert "Read-only file system" in error["error"], error


def test_an_answer_too_large_fails_its_check_and_names_the_cap(graded):
    entry = row_of(graded, "attack-huge-answer.ipynb")["checks"]["l1-max-throughput"]
    assert "more than the grader accepts" in entry["message"], entry


def test_csv_has_one_column_per_check_then_totals(graded):
    with open(graded["out"] / "grades.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["student", "file", "exercise", *CHECKS, *HIDDEN, "total", "maximum", "status", "reason",
                        "flags"]
    assert len(table) == 1 + len(graded["rows"])
    by_file = {Path(r[1]).relative_to(SUBMISSIONS).as_posix(): r for r in table[1:]}
    assert by_file["partly-wrong.ipynb"][3:] == ["2", "0", "0", "3", "1", "0", "6", "13", "ok", "", ""]
    assert by_file["empty.ipynb"][3:] == ["", "", "", "", "", "", "0", "0", "invalid", "empty file", ""]


def test_json_matches_the_csv(graded):
    data = json.loads((graded["out"] / "grades.json").read_text())
    with open(graded["out"] / "grades.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(data["rows"]) == len(table)
    for entry, line in zip(data["rows"], table):
        assert (entry["student"], entry["file"], str(entry["total"]), entry["status"]) == \
               (line["student"], line["file"], line["total"], line["status"])
        for check, result in entry["checks"].items():
            assert str(result["points"]) == line[check]


def test_one_feedback_page_per_submission_without_check_code(graded):
    pages = sorted((graded["out"] / "feedback").glob("*.html"))
    assert len(pages) == len(graded["rows"])
    hidden_source = EXTRA.read_text()
    for page in pages:
        text = page.read_text()
        assert "HIDDEN-CHECK-CODE" not in text and "student[\"max_throughput\"]" not in text
        assert "def check_" not in text and "expect_close" not in text
        assert hidden_source not in text
    data = json.loads((graded["out"] / "grades.json").read_text())
    page = next(r for r in data["rows"] if r["file"].endswith("partly-wrong.ipynb"))["feedback"]
    text = (graded["out"] / page).read_text()
    assert "6 / 13 points" in text
    assert "time_to_fill(50, 150, 0.5) returned 100, expected 0.3333" in text
    assert "hint: Once B is slow" in text
    assert "l1-hidden-exact-fill <small>(instructor check)</small>" in text
    assert "hint: Arrivals, not completions, fill the pool." in text


def bare_run(path, package_copy):
    """Run a notebook as the student sees it, importing a throwaway copy of the package."""
    notebook = nbformat.read(path, as_version=4)
    # Some of these notebooks edit the package's files: stop unless they import the throwaway copy.
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        f"import os, resilience_lab\nif not resilience_lab.__file__.startswith({str(package_copy)!r}):\n"
        f"    os._exit(1)"))
    client = NotebookClient(notebook, timeout=60, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(package_copy.parent)}})
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(package_copy.parent)
    try:
        client.execute()
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.__setitem__("PYTHONPATH", old)
    passed = []
    for cell in notebook.cells:
        check = cell.metadata.get("resilience_lab", {}).get("check")
        if check:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if "PASS" in text and not errors:
                passed.append(check)
    return passed


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_that_passes_bare_earns_nothing_from_the_grader(graded, name, tmp_path):
    copy = tmp_path / "pkg" / "resilience_lab"
    shutil.copytree(ROOT / "resilience_lab", copy, ignore=shutil.ignore_patterns("__pycache__"))
    lesson01 = ROOT / "resilience_lab" / "checks" / "lesson01.py"
    before = lesson01.read_bytes()
    passed = bare_run(SUBMISSIONS / name, copy)
    assert lesson01.read_bytes() == before
    assert passed, f"{name} does not even fool the check cells when run bare"
    assert row_of(graded, name)["total"] == 0


# ---------------------------------------------------------------- restoring check cells (no kernel)


def release():
    return Release(RELEASE)


def test_restore_keeps_student_cells_and_puts_back_the_released_checks():
    exercise = release().exercises["01-cascading-failures"]
    notebook = nbformat.read(SUBMISSIONS / "edited-checks.ipynb", as_version=4)
    restored, _ = restore_checks(notebook, exercise)
    checks = [c for c in restored.cells if "check" in c.metadata.get("resilience_lab", {})]
    assert [c.metadata["resilience_lab"]["check"] for c in checks] == CHECKS
    assert [c.source for c in checks] == [c.source for c in exercise.checks]
    ids = [c.get("id") for c in restored.cells]
    assert ids.index("cell-10") + 1 == ids.index("cell-11")  # re-inserted after the cell before it
    assert "def time_to_fill(workers, arrival_rate, latency):\n    return workers / latency" in \
        [c.source for c in restored.cells]
    assert nbformat.read(SUBMISSIONS / "edited-checks.ipynb", as_version=4) == notebook  # not modified


def test_a_claim_to_an_unknown_check_becomes_an_ordinary_cell():
    exercise = release().exercises["01-cascading-failures"]
    notebook = nbformat.read(RELEASE / "01-cascading-failures.ipynb", as_version=4)
    notebook.cells[3].metadata["resilience_lab"] = {"check": "l1-free-points", "points": 100}
    restored, changes = restore_checks(notebook, exercise)
    assert changes == [] and "resilience_lab" not in restored.cells[3].metadata


@pytest.mark.parametrize("data, reason", [(b"", "empty file"), (b"  \n", "empty file"), (b"[1, 2]", "not a notebook"),
                                          (b'{"cells": 3}', "not a notebook"), (b"\xff\xfe", "not UTF-8"),
                                          (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 5}]}',
                                           "not a readable notebook")])
def test_unreadable_submissions_say_why(data, reason):
    with pytest.raises(InvalidSubmission, match=reason):
        read_notebook(data)


def test_an_unknown_exercise_names_the_released_ones():
    notebook = nbformat.read(SUBMISSIONS / "unknown-exercise.ipynb", as_version=4)
    with pytest.raises(InvalidSubmission, match="released: 01-cascading-failures"):
        release().identify(notebook)


def test_extra_checks_must_name_a_released_exercise(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('EXERCISE = "07-nope"\n')
    with pytest.raises(ValueError, match="07-nope"):
        grade([str(SUBMISSIONS / "empty.ipynb")], tmp_path / "out", release=RELEASE, extra_checks=[bad])


# ---------------------------------------------------------------- the command, limits, Dask


def test_a_student_grades_their_own_exercise_with_the_default_release(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "mine"
    assert cli.main(["grade", "solutions/01-cascading-failures.ipynb", "--out", str(out), "--quiet"]) == 0
    assert "10 / 10" in capsys.readouterr().out
    assert (out / "grades.csv").exists() and (out / "grades.json").exists()
    first = (out / "grades.csv").read_text()
    # Grading again into the same folder keeps the first run, and says where.
    assert cli.main(["grade", "exercises/01-cascading-failures.ipynb", "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    [earlier] = (out / "earlier").iterdir()
    assert f"kept the earlier grades of that folder in {earlier}" in said
    assert (earlier / "grades.csv").read_text() == first and len(list((earlier / "feedback").iterdir())) == 1
    assert len(list((out / "feedback").iterdir())) == 1 and "exercises/01" in (out / "grades.csv").read_text()


def sleepy_notebook(path, cells):
    notebook = nbformat.read(RELEASE / "01-cascading-failures.ipynb", as_version=4)
    notebook.cells = [notebook.cells[1], *[nbformat.v4.new_code_cell(s) for s in cells], *notebook.cells[3:5]]
    nbformat.write(notebook, path)
    return path


def test_the_whole_notebook_has_a_time_limit_too(tmp_path):
    path = sleepy_notebook(tmp_path / "slow.ipynb", ["import time\ntime.sleep(1.5)"] * 4)
    limits = Limits(cell_timeout=3, notebook_timeout=4, memory=1024**3, output=10_000)
    [row] = grade([str(path)], tmp_path / "out", release=RELEASE, workers=1, limits=limits)
    assert row["status"] == "timeout" and "the notebook ran longer than its limit of 4 s" in row["reason"], row


def test_dask_cluster_grades_the_same_as_local_workers(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    names = ["partly-wrong.ipynb", "empty.ipynb", "os-exit.ipynb", "correct-different.ipynb"]
    paths = [str(SUBMISSIONS / n) for n in names]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        rows = grade(paths, tmp_path / "dask", release=RELEASE, dask=cluster.scheduler_address, limits=LIMITS)
    assert [(r["status"], r["total"]) for r in rows] == [("ok", 5), ("invalid", 0), ("crashed", 2), ("ok", 10)]
    assert (tmp_path / "dask" / "grades.csv").exists()


def test_bad_options_say_what_is_allowed(tmp_path, capsys):
    with pytest.raises(ValueError, match="Limits.cell_timeout must be a positive number, not 0"):
        Limits(cell_timeout=0)
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        grade([str(SUBMISSIONS / "partly-wrong.ipynb")], tmp_path / "out", release=RELEASE, workers=0)
    assert cli.main(["grade", str(SUBMISSIONS / "partly-wrong.ipynb"), "--release", str(tmp_path / "nowhere"),
                     "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "release folder" in capsys.readouterr().err


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_released_exercise_grades_without_grader_changes(solution, tmp_path):
    """The untouched exercise earns nothing and its solution everything, for every lesson."""
    exercise = RELEASE / solution.name
    rows = grade([str(exercise), str(solution)], tmp_path, release=RELEASE, workers=2)
    assert [(r["status"], r["total"]) for r in rows] == [("ok", 0), ("ok", rows[1]["maximum"])], \
        [(r["status"], r["reason"], {c: e["message"] for c, e in r["checks"].items() if not e["passed"]}) for r in rows]
    assert rows[1]["maximum"] > 0 and not rows[1]["restored"]


def test_workers_start_the_next_kernel_before_grading_and_keep_the_order(monkeypatch):
    """run_local with a stand-in runner: each worker starts submission i+1 before it
    finishes i, and rows come back in submission order though they finish out of order."""
    import random
    import threading
    import time

    from resilience_lab.grading import batch

    events, lock = [], threading.Lock()
    delays = random.Random(5)
    pauses = {i: delays.uniform(0, 0.05) for i in range(8)}

    def start(job):
        with lock:
            events.append(("start", job.index, threading.get_ident()))
        return job

    def finish(job):
        time.sleep(pauses[job.index])
        with lock:
            events.append(("finish", job.index, threading.get_ident()))
        return {"index": job.index}

    monkeypatch.setattr(batch.runner, "start", start)
    monkeypatch.setattr(batch.runner, "finish", finish)
    jobs = [type("J", (), {"index": i})() for i in range(8)]
    done = []
    rows = batch.run_local(jobs, 2, done.append)
    assert [r["index"] for r in rows] == list(range(8))
    assert sorted(r["index"] for r in done) == list(range(8))
    for thread in {t for _, _, t in events}:
        mine = [(kind, index) for kind, index, t in events if t == thread]
        started = [index for kind, index in mine if kind == "start"]
        for position, index in enumerate(started[:-1]):  # the next start comes before this finish
            assert mine.index(("start", started[position + 1])) < mine.index(("finish", index))


REFERENCE_BREAKERS = {
    # imported under the exercise's name
    "imported.ipynb": "from resilience_lab.patterns.circuit_breaker import CircuitBreaker as Breaker",
    # a subclass that adds nothing
    "subclass.ipynb": "from resilience_lab.patterns import circuit_breaker\n\n"
                      "class Breaker(circuit_breaker.CircuitBreaker):\n    pass",
    # a wrapper that finds the reference without a visible import and hands every call to it
    "delegating.ipynb": "import importlib\n\nclass Breaker:\n"
                        "    def __init__(self, **settings):\n"
                        "        module = importlib.import_module('resilience_lab.' + 'patterns.circuit_breaker')\n"
                        "        self._inner = module.CircuitBreaker(**settings)\n"
                        "    def allow(self, now):\n        return self._inner.allow(now)\n"
                        "    def record(self, now, ok):\n        self._inner.record(now, ok)\n"
                        "    @property\n    def state(self):\n        return self._inner.state",
}


def test_using_the_packages_reference_implementation_is_flagged(tmp_path):
    """Three ways of handing in the package's own breaker for exercise 3: each earns
    what its answers earn, and its row (csv and json) says what it used."""
    solution = nbformat.read(ROOT / "solutions" / "03-circuit-breaker.ipynb", as_version=4)
    paths = []
    for name, code in REFERENCE_BREAKERS.items():
        notebook = nbformat.from_dict(json.loads(json.dumps(solution)))
        next(c for c in notebook.cells if c.get("id") == "cell-04").source = code
        nbformat.write(notebook, tmp_path / name)
        paths.append(str(tmp_path / name))
    nbformat.write(solution, tmp_path / "own.ipynb")
    rows = grade([*paths, str(tmp_path / "own.ipynb")], tmp_path / "out", release=RELEASE, workers=2,
                 sandboxed=SANDBOXED)
    flags = {Path(r["file"]).name: " | ".join(r["flags"]) for r in rows}
    assert "imports the reference implementation" in flags["imported.ipynb"]
    assert "Breaker comes from the package (resilience_lab.patterns.circuit_breaker)" in flags["imported.ipynb"]
    assert "Breaker comes from the package (resilience_lab.patterns.circuit_breaker)" in flags["subclass.ipynb"]
    assert "calls the reference implementation resilience_lab.patterns.circuit_breaker.CircuitBreaker" \
        in flags["delegating.ipynb"]
    assert flags["own.ipynb"] == ""
    assert all(r["total"] == r["maximum"] for r in rows), [(r["file"], r["total"]) for r in rows]
    with open(tmp_path / "out" / "grades.csv", newline="") as handle:
        table = {Path(line["file"]).name: line for line in csv.DictReader(handle)}
    assert table["subclass.ipynb"]["flags"] == flags["subclass.ipynb"].replace(" | ", "; ")


PATCHING_POLICY = '''import resilience_lab.checks.lesson02 as _l2

def _perfect(policy_class):
    return {"healthy": {"ok": 375}, "healthy_latency": [0.02, 0.04], "failing": {"error": 200},
            "crowded": {"ok": 150, "rejected": 80}, "open": {"short-circuited": 230},
            "hung": {"timeout": 580}, "waited": [0.1, 0.1], "busy": 0.3, "p99": 0.1,
            "other": {"timeout": 300}, "other_waited": [0.25, 0.25], "race": {"ok": 190, "timeout": 180}}

class MyTimeout:
    """Waits for ever (no timeout at all); the class body rewrites the measurement."""
    _l2.policy_runs.__wrapped__.__code__ = _perfect.__code__
    _l2._reference = lambda: {"healthy": {"ok": 375}, "healthy_latency": [0.02, 0.04],
                              "crowded": {"ok": 150, "rejected": 80}, "race": {"ok": 190, "timeout": 180}}
    _l2._counts = lambda outcomes: {"ok": 375}
    _l2._outcomes = lambda *a, **k: ([], [])

    def __init__(self, seconds):
        self.seconds = seconds

    def wrap(self, run, caller, target, call):
        return call
'''


def test_a_measurement_is_put_back_before_it_runs(tmp_path):
    """A graded class whose body rewrites the measurement of l2-timeout-policy: bare,
    the check cell passes; graded, the package is put back before the measurement
    and the policy (which never times out) fails."""
    notebook = nbformat.read(RELEASE / "02-timeouts.ipynb", as_version=4)
    next(c for c in notebook.cells if c.get("id") == "cell-04").source = PATCHING_POLICY
    notebook.cells = [c for c in notebook.cells if c.get("id") != "cell-08"]  # its plot would wait for ever
    path = tmp_path / "patching.ipynb"
    nbformat.write(notebook, path)
    copy = tmp_path / "pkg" / "resilience_lab"
    shutil.copytree(ROOT / "resilience_lab", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert "l2-timeout-policy" in bare_run(path, copy)
    [row] = grade([str(path)], tmp_path / "out", release=RELEASE, workers=1, sandboxed=SANDBOXED)
    entry = row["checks"]["l2-timeout-policy"]
    assert row["status"] == "ok" and entry["reached"] and not entry["passed"], entry
    assert "every one should be a timeout" in entry["message"], entry["message"]
