"""The auto-grader's throughput and overhead, and nbgrader's, measured in the same run (issue 5).

**Lesson 1.** Batches of lesson-1 submissions (copies of the honest submissions
in ``tests/grading_corpus``: correct, partly wrong, edited check cells) graded
by ``resilience_lab.grading.grade``:

- **bare**: each notebook run top to bottom in a fresh kernel by ``nbclient``,
  one after another, as ``jupyter nbconvert --execute`` would (no checks put back,
  no limits, no guard): the floor the grader is measured against;
- **one worker, no overlap**: the grader with one worker that starts each kernel
  when its turn comes; its time per submission minus bare's is the grader's
  overhead per submission;
- **one worker** and **two workers**: as shipped, each worker starting the next
  submission's kernel while it grades the current one.

**Five questions, against nbgrader.** The case where kernel start-up dominates:
five one-line functions (``qN(x)`` returns ``x + N``) and five one-point checks,
no lesson imports. The same N correct submissions (20; 6 with ``--quick``) are
graded, in this run and on this machine, by

- **nbgrader 0.9** (``nbgrader_side``): installed from the package index into
  its own venv, ``benchmarks/results/nbgrader-venv/`` (the project's ``.venv``
  is not touched; the venv is reused once made). The assignment is written in
  nbgrader's format (``### BEGIN SOLUTION`` answer cells, locked autograded test
  cells with an ``assert`` each, one point each), released with
  ``nbgrader generate_assignment``, and the N submissions put in
  ``submitted/<student>/<assignment>/``. Timed: ``nbgrader autograde <assignment>
  --force`` over all N, in a fresh copy of the course folder each time, wall clock
  from the command's start to its end (nbgrader executes the notebooks one after
  another through nbclient; its start-up, a few seconds of imports, is in the
  figure and is also reported alone). Then ``nbgrader export`` must show 5 of 5
  for every submission, or the figure is thrown away as failed;
- **resilience-lab's grader** on the same five questions as a resilience-lab
  exercise (the checks instructor-only, ``extra_checks``), with 1 worker and
  with 2 workers, timed around ``grade()`` (in this process, so without an
  interpreter's start-up); every row must total 5 points.

Each of the three is run ``repeat`` times (3; 1 with ``--quick``), interleaved
(each goes first in turn), after an untimed warm-up of each grader on one
submission; reported are the medians,
as seconds per submission and submissions per minute, and the ratios of our
throughput to nbgrader's (same N, same machine, same run: of the medians, and
round by round), with the load average before and after the timed runs (and as
each began, in the JSON). Our grader with one worker already starts the next
kernel while it grades, so it can use both cores; nbgrader runs one notebook
at a time. No figure is quoted from elsewhere. If nbgrader cannot be
installed or run, its half is reported as skipped or failed with the reason and
the rest still runs; likewise if our grader raises.

Targets (issue 5), on 2 cores: 100 lesson-1 submissions in under 3 minutes;
the five-question notebook at least 3 times nbgrader's throughput. Run:
``python -m benchmarks grading`` or ``python benchmarks/grading.py [--count N]
[--quick] [--repeat R] [--only lesson1|five|nbgrader ...]`` (``--only nbgrader``:
nbgrader alone; ``--only five nbgrader``: the comparison without lesson 1).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python benchmarks/grading.py``
    sys.path.insert(0, str(ROOT))

from benchmarks import nbgrader_side  # noqa: E402

CORPUS = ROOT / "tests" / "grading_corpus" / "submissions"
HONEST = ["correct-different.ipynb", "partly-wrong.ipynb", "my homework FINAL (2).ipynb", "alice/exercise1.ipynb",
          "edited-checks.ipynb", "stripped-metadata.ipynb"]
PARTS = ("lesson1", "five", "nbgrader")
TARGET_RATIO = 3.0


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


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _failure(error: BaseException) -> str:
    """One line for the results: the exception and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:600]}{where}"


def _lesson1(folder: Path, count: int, quick: bool) -> dict:
    paths = []
    for k in range(count):
        paths.append(folder / "lesson1" / f"student-{k:03d}.ipynb")
        paths[-1].parent.mkdir(exist_ok=True)
        shutil.copy(CORPUS / HONEST[k % len(HONEST)], paths[-1])
    release = ROOT / "exercises"
    bare = _bare(paths[: min(count, 3 if quick else 6)])
    bare_each = sum(bare) / len(bare)
    sequential, rows = _grade(paths, folder / "out-seq", release=release, workers=1, overlap=False)
    bad = [r.get("reason") for r in rows if r["status"] != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} lesson-1 submissions not graded: {bad[:3]}")
    one, _ = _grade(paths, folder / "out-one", release=release, workers=1)
    two, _ = _grade(paths, folder / "out-two", release=release, workers=2)
    per_minute = {name: 60 * count / wall for name, wall in
                  [("sequential", sequential), ("one", one), ("two", two)]}
    overhead = sequential / count - bare_each
    lines = [
        f"lesson 1, {count} submissions: bare nbclient {bare_each:.2f} s per notebook (mean of {len(bare)})",
        f"- grader, 1 worker, no overlap: {sequential:.1f} s = {per_minute['sequential']:.0f} per minute; "
        f"overhead over bare {overhead:+.2f} s per submission",
        f"- grader, 1 worker (overlapped start-up): {one:.1f} s = {per_minute['one']:.0f} per minute",
        f"- grader, 2 workers: {two:.1f} s = {per_minute['two']:.0f} per minute; "
        f"100 submissions would take about {100 * two / count:.0f} s (target < 180 s)",
    ]
    return {"lines": lines, "bare_seconds": bare, "sequential": sequential, "one_worker": one,
            "two_workers": two, "per_minute": per_minute, "overhead_seconds": overhead}


def _ours_five(folder: Path, paths, release: Path, checks: Path, workers: int, tag: str) -> float:
    """Seconds for ``grade()`` over ``paths``; raises unless every row has all 5 points."""
    seconds, rows = _grade(paths, folder / f"out-five-{tag}", release=release, workers=workers,
                           extra_checks=[checks])
    bad = [r for r in rows if r.get("status") != "ok" or r.get("total") != 5]
    if bad:
        row = bad[0]
        raise RuntimeError(f"{len(bad)} of {len(rows)} five-question rows without 5 points, e.g. "
                           f"status {row.get('status')!r}, total {row.get('total')!r}, {row.get('reason')!r}")
    return seconds


def _nbgrader_startup(python: Path, home: Path) -> float:
    """Median seconds of ``python -m nbgrader --version`` (5 runs): the command's own
    start-up (imports), about what ``nbgrader autograde`` pays before its first notebook."""
    import subprocess

    env = nbgrader_side.environment(python.parent.parent, home)
    times = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([str(python), "-m", "nbgrader", "--version"], env=env, capture_output=True,
                       timeout=300, check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _five(folder: Path, count: int, repeat: int, parts: set, log) -> dict:
    """The five-question comparison: nbgrader autograde and/or our grader (1 and 2
    workers) on the same ``count`` submissions, ``repeat`` times, interleaved."""
    result = {"count": count, "repeat": repeat}
    runs = {}  # name -> callable(round) -> seconds
    status = {}
    if "five" in parts:
        try:
            release, checks, paths = _five_question(folder, count)
            five_bare = _bare(paths[:3])
            result["bare_seconds"] = five_bare
            _ours_five(folder, paths[:1], release, checks, 1, "warm-up")
            for workers in (1, 2):
                name = f"ours_{workers}"
                runs[name] = (lambda r, w=workers, n=name:
                              _ours_five(folder, paths, release, checks, w, f"{n}-{r}"))
                status[name] = "ok"
        except Exception as error:  # the grader is being rewritten: report, go on with nbgrader
            status["ours_1"] = status["ours_2"] = "failed"
            result["ours_error"] = _failure(error)
            log(f"five questions, our grader: failed: {result['ours_error']}")
    if "nbgrader" in parts:
        try:
            setup = nbgrader_side.prepare(log=log)
            result["nbgrader_setup"] = setup
            python, home = Path(setup["python"]), folder / "nbgrader-home"
            kernel = nbgrader_side.kernel_python(python, home)
            if Path(kernel).parent != python.parent:
                raise nbgrader_side.Unavailable(f"the python3 kernel would run {kernel}, not the nbgrader venv's")
            template = nbgrader_side.make_template(folder / "nbgrader-course", count, python, home)
            result["nbgrader_startup"] = _nbgrader_startup(python, home)
            warm = nbgrader_side.autograde(template, folder / "nbgrader-warm-up", python, home, keep=1)
            result["nbgrader_warm_up"] = warm["seconds"]
            runs["nbgrader"] = lambda r: nbgrader_side.autograde(
                template, folder / f"nbgrader-run-{r}", python, home)["seconds"]
            status["nbgrader"] = "ok"
        except nbgrader_side.Unavailable as error:
            status["nbgrader"] = "skipped"
            result["nbgrader_error"] = str(error)
            log(f"five questions, nbgrader: skipped: {error}")
        except Exception as error:
            status["nbgrader"] = "failed"
            result["nbgrader_error"] = _failure(error)
            log(f"five questions, nbgrader: failed: {result['nbgrader_error']}")
    times = {name: [] for name in runs}
    loads = {name: [] for name in runs}  # the 1-minute load average as each run began
    order = list(runs)
    result["load_before"] = _load()  # set-up and warm-ups done: the timed runs start now
    for r in range(repeat if order else 0):
        for name in order[r % len(order):] + order[: r % len(order)]:  # each goes first in turn
            if status[name] != "ok":
                continue
            try:
                loads[name].append(_load()[0])
                times[name].append(runs[name](r))
            except Exception as error:
                status[name] = "failed"
                key = "nbgrader_error" if name == "nbgrader" else "ours_error"
                result[key] = _failure(error)
                log(f"five questions, {name}: failed: {result[key]}")
    result["load_after"] = _load()
    result["status"] = status
    result["seconds"] = times
    result["load_at_start_of_each_run"] = loads
    result["median"] = {name: statistics.median(t) for name, t in times.items() if status[name] == "ok" and t}
    return result


def _five_lines(five: dict) -> list[str]:
    count, repeat, median = five["count"], five["repeat"], five["median"]
    runs = f"median of {repeat} runs" if repeat > 1 else "one run"
    lines = [f"five-question notebook, {count} submissions each, same run ({runs}); load average "
             f"{' / '.join(map(str, five['load_before']))} before, "
             f"{' / '.join(map(str, five['load_after']))} after"]

    def figure(name: str) -> str:
        seconds = median[name]
        return f"{seconds:.1f} s = {seconds / count:.2f} s per submission, {60 * count / seconds:.0f} per minute"

    status = five["status"]
    if "nbgrader" in status:
        if "nbgrader" in median:
            setup = five["nbgrader_setup"]
            startup = five["nbgrader_startup"]
            venv = "venv reused" if setup["reused"] else f"installed in {setup['install_seconds']:.0f} s first"
            lines.append(f"- nbgrader {setup['version']} autograde (one notebook at a time; {venv}): "
                         f"{figure('nbgrader')} (all {count} scored 5/5; the command's start-up, about "
                         f"{startup:.1f} s, included: {max(median['nbgrader'] - startup, 0) / count:.2f} s "
                         f"per submission without it)")
        else:
            lines.append(f"- nbgrader: {status['nbgrader']}: {five.get('nbgrader_error')}")
    for workers in (1, 2):
        name = f"ours_{workers}"
        if name not in status:
            continue
        if name in median:
            bare = five.get("bare_seconds") or []
            tail = f" (bare nbclient {sum(bare) / len(bare):.2f} s each)" if workers == 1 and bare else ""
            lines.append(f"- resilience-lab grader, {workers} worker{'s' * (workers > 1)}: {figure(name)}{tail}")
        else:
            lines.append(f"- resilience-lab grader, {workers} worker{'s' * (workers > 1)}: "
                         f"{status[name]}: {five.get('ours_error')}")
    ratios = five["ratios"]
    for workers in (1, 2):
        name = f"ours_{workers}"
        if name in ratios:
            rounds = five["ratios_by_round"][name]
            each = f"; round by round {', '.join(f'{x:.1f}x' for x in rounds)}" if len(rounds) > 1 else ""
            lines.append(f"- ours with {workers} worker{'s' * (workers > 1)} / nbgrader: {ratios[name]:.1f}x "
                         f"nbgrader's throughput (ratio of the medians{each}; target >= {TARGET_RATIO:.0f}x)")
    return lines


def run(quick: bool = False, count: int | None = None, only=None, repeat: int | None = None, log=None) -> dict:
    count = count or (6 if quick else 20)
    repeat = repeat or (1 if quick else 3)
    parts = set(only or PARTS)
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    result = {"title": "Auto-grader throughput, and nbgrader's in the same run", "count": count,
              "parts": sorted(parts), "load_average_before": _load(), "lines": []}
    folder = Path(tempfile.mkdtemp(prefix="rl-bench-grading-"))
    try:
        if "lesson1" in parts:
            try:
                lesson1 = _lesson1(folder, count, quick)
                result["lines"] += lesson1.pop("lines")
                result.update(lesson1)
            except Exception as error:
                result["lesson1_error"] = _failure(error)
                result["lines"].append(f"lesson 1, {count} submissions: failed: {result['lesson1_error']}")
        if parts & {"five", "nbgrader"}:
            five = _five(folder, count, repeat, parts, log)
            median = five["median"]
            five["per_minute"] = {name: 60 * count / s for name, s in median.items()}
            five["seconds_per_submission"] = {name: s / count for name, s in median.items()}
            five["ratios"] = ({name: median["nbgrader"] / median[name] for name in ("ours_1", "ours_2")
                               if name in median} if "nbgrader" in median else {})
            seconds = five["seconds"]  # the same ratio within each round, the load being alike
            five["ratios_by_round"] = {name: [nb / ours for nb, ours in zip(seconds["nbgrader"], seconds[name])]
                                       for name in five["ratios"]}
            result["lines"] += _five_lines(five)
            result["five"] = five
            if "ours_2" in median:  # the key earlier results had
                result["five_two_workers"] = median["ours_2"]
                result.setdefault("per_minute", {})["five"] = five["per_minute"]["ours_2"]
            if "nbgrader" in median:
                result.setdefault("per_minute", {})["nbgrader"] = five["per_minute"]["nbgrader"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["load_average_after"] = _load()
    result["machine"] = _machine()
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="submissions per batch (default 20; --quick: 6)")
    parser.add_argument("--quick", action="store_true", help="6 submissions, one run of each")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs of each five-question grader, medians reported (default 3; --quick: 1)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=None,
                        help="run only these parts (default: all): lesson1, five (our grader on the five "
                             "questions), nbgrader")
    args = parser.parse_args()
    result = run(quick=args.quick, count=args.count, only=args.only, repeat=args.repeat)
    print(_machine())
    print("\n".join(result["lines"]))
    sys.exit(0)
