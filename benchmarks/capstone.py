"""Grading the capstone: one solved exercise 8, with an instructor's unseen months.

The issue's target: grading one capstone notebook takes under a minute on 2 cores.
Each round grades, through the real grader (sandboxed when bwrap is installed, one
worker), the solved exercise 8 with the test suite's hidden-months file
(``tests/mutations/hidden/ex08_unseen_months.py``: five months the student does not
see) and, as the baseline measured in the same run, the solved exercise 1. The
figure is the median over ``ROUNDS`` rounds of the wall time per notebook, and its
ratio to the baseline's.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks import ROOT, median

ROUNDS = 3
HIDDEN = ROOT / "tests" / "mutations" / "hidden" / "ex08_unseen_months.py"


def grade_seconds(name: str, extra_checks, folder: Path) -> tuple[float, dict]:
    from resilience_lab.grading import grade, sandbox

    notebook = folder / f"{name}.ipynb"
    shutil.copy(ROOT / "solutions" / notebook.name, notebook)
    began = time.perf_counter()
    [row] = grade([str(notebook)], folder / f"grades-{name}-{time.monotonic_ns()}", release=ROOT / "exercises",
                  workers=1, extra_checks=extra_checks, sandboxed=sandbox.available(), progress=False)
    return time.perf_counter() - began, row


def run(quick: bool = False) -> dict:
    rounds = 1 if quick else ROUNDS
    capstone, baseline, scores = [], [], set()
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            seconds, row = grade_seconds("08-capstone", [str(HIDDEN)], Path(tmp))
            capstone.append(seconds)
            scores.add(f"{row['total']}/{row['maximum']}")
            seconds, _ = grade_seconds("01-cascading-failures", [], Path(tmp))
            baseline.append(seconds)
    ours, base = median(capstone), median(baseline)
    lines = [
        f"One solved notebook through the grader (one worker, sandbox if available), median of {rounds} rounds:",
        "",
        f"- exercise 8 with five unseen months: **{ours:.1f} s** (target under 60 s: "
        f"{'met' if ours < 60 else 'MISSED'}); scored {', '.join(sorted(scores))}",
        f"- exercise 1, the baseline in the same run: {base:.1f} s; exercise 8 takes {ours / base:.1f}x as long",
    ]
    return {"title": "Grading the capstone", "lines": lines, "capstone_seconds": capstone,
            "baseline_seconds": baseline}
