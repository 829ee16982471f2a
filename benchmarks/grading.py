"""The auto-grader's throughput and overhead (issue 5).

Batches of lesson-1 submissions (copies of the honest submissions in
``tests/grading_corpus``: correct, partly wrong, edited check cells) graded by
``resilience_lab.grading.grade``:

- **bare**: each notebook run top to bottom in a fresh kernel by ``nbclient``,
  one after another, as ``jupyter nbconvert --execute`` would (no checks put back,
  no limits, no guard): the floor the grader is measured against;
- **one worker, no overlap**: the grader with one worker that starts each kernel
  when its turn comes; its time per submission minus bare's is the grader's
  overhead per submission;
- **one worker** and **two workers**: as shipped, each worker starting the next
  submission's kernel while it grades the current one.

Then a small five-question notebook (five one-line functions, five instructor
checks, no lesson imports), graded with two workers: the case where kernel
start-up dominates, to compare with nbgrader's autograde (about 2.4 s per such
submission on these machines, from the issue; not measured here).

Targets (issue 5), on 2 cores: 100 lesson-1 submissions in under 3 minutes;
the five-question notebook at least 3 times nbgrader's throughput (>= 75 per
minute). Run: ``python -m benchmarks grading`` or
``python benchmarks/grading.py [--count N] [--quick]``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "grading_corpus" / "submissions"
HONEST = ["correct-different.ipynb", "partly-wrong.ipynb", "my homework FINAL (2).ipynb", "alice/exercise1.ipynb",
          "edited-checks.ipynb", "stripped-metadata.ipynb"]
NBGRADER_SECONDS = 2.4  # nbgrader 0.9.6 autograde, five-question notebook, one at a time (issue 5)


def _machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load}"


def _bare(paths) -> list[float]:
    """Seconds from kernel start to the end of the last cell (not the shutdown), for
    each notebook after a first, untimed one that warms the disk caches."""
    times = []
    for path in [paths[0], *paths]:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(notebook, timeout=300, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        began = time.perf_counter()
        with client.setup_kernel():
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            times.append(time.perf_counter() - began)
    return times[1:]


def _grade(paths, out, **options) -> tuple[float, list[dict]]:
    from resilience_lab.grading import grade

    began = time.perf_counter()
    rows = grade([str(p) for p in paths], out, **options)
    return time.perf_counter() - began, rows


def _five_question(folder: Path, count: int):
    release = folder / "release"
    release.mkdir()
    cells = [nbformat.v4.new_markdown_cell("# Five questions\n\nYou will be able to add numbers.")]
    cells += [nbformat.v4.new_code_cell(f"def q{n}(x):\n    return x + {n}") for n in range(1, 6)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "resilience_lab": {"exercise": "bench-five", "title": "Five questions"}})
    nbformat.write(notebook, release / "bench-five.ipynb")
    checks = folder / "five_checks.py"
    checks.write_text("from resilience_lab.checks import expect_close, graded\nEXERCISE = 'bench-five'\n" + "".join(
        f"\n@graded('five-q{n}', points=1, hint='add {n}')\ndef check_q{n}(student):\n"
        f"    expect_close('q{n}(1)', student['q{n}'](1), {1 + n})\n" for n in range(1, 6)))
    submissions = folder / "five"
    submissions.mkdir()
    paths = []
    for k in range(count):
        paths.append(submissions / f"student-{k:03d}.ipynb")
        nbformat.write(notebook, paths[-1])
    return release, checks, paths


def run(quick: bool = False, count: int | None = None) -> dict:
    count = count or (6 if quick else 20)
    folder = Path(tempfile.mkdtemp(prefix="rl-bench-grading-"))
    try:
        paths = []
        for k in range(count):
            paths.append(folder / "lesson1" / f"student-{k:03d}.ipynb")
            paths[-1].parent.mkdir(exist_ok=True)
            shutil.copy(CORPUS / HONEST[k % len(HONEST)], paths[-1])
        release = ROOT / "exercises"
        bare = _bare(paths[: min(count, 3 if quick else 6)])
        bare_each = sum(bare) / len(bare)
        sequential, rows = _grade(paths, folder / "out-seq", release=release, workers=1, overlap=False)
        assert all(r["status"] == "ok" for r in rows), [r["reason"] for r in rows if r["status"] != "ok"]
        one, _ = _grade(paths, folder / "out-one", release=release, workers=1)
        two, _ = _grade(paths, folder / "out-two", release=release, workers=2)
        five_release, five_checks, five_paths = _five_question(folder, count)
        five_bare = _bare(five_paths[:3])
        five_two, five_rows = _grade(five_paths, folder / "out-five", release=five_release, workers=2,
                                     extra_checks=[five_checks])
        assert all(r["total"] == 5 for r in five_rows), five_rows[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    per_minute = {name: 60 * count / wall for name, wall in
                  [("sequential", sequential), ("one", one), ("two", two), ("five", five_two)]}
    overhead = sequential / count - bare_each
    lines = [
        f"lesson 1, {count} submissions: bare nbclient {bare_each:.2f} s per notebook (mean of {len(bare)})",
        f"- grader, 1 worker, no overlap: {sequential:.1f} s = {per_minute['sequential']:.0f} per minute; "
        f"overhead over bare {overhead:+.2f} s per submission",
        f"- grader, 1 worker (overlapped start-up): {one:.1f} s = {per_minute['one']:.0f} per minute",
        f"- grader, 2 workers: {two:.1f} s = {per_minute['two']:.0f} per minute; "
        f"100 submissions would take about {100 * two / count:.0f} s (target < 180 s)",
        f"five-question notebook, {count} submissions, 2 workers: {five_two:.1f} s = {per_minute['five']:.0f} per "
        f"minute, {five_two / count:.2f} s each (bare nbclient {sum(five_bare) / 3:.2f} s each); "
        f"{per_minute['five'] / (60 / NBGRADER_SECONDS):.1f}x nbgrader's {60 / NBGRADER_SECONDS:.0f} per minute "
        f"(target >= 3x)",
    ]
    return {"title": "Auto-grader throughput", "lines": lines, "machine": _machine(), "count": count,
            "bare_seconds": bare, "sequential": sequential, "one_worker": one, "two_workers": two,
            "five_two_workers": five_two, "per_minute": per_minute, "overhead_seconds": overhead}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="submissions per batch (default 20; --quick: 6)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick, count=args.count)
    print(result["machine"])
    print("\n".join(result["lines"]))
    sys.exit(0)
