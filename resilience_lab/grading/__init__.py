"""The auto-grader: ``resilience-lab grade SUBMISSION... --out DIR``.

How a submission is graded (one notebook; a folder is one student's notebooks):

1. :mod:`.notebooks`: read it (not a notebook, invalid JSON, empty file,
   unknown exercise: a row with status ``invalid``); find its exercise from
   ``metadata.resilience_lab.exercise`` (or, if that was stripped, from the check
   ids its cells carry), never from the file name; put back the released check
   cells (edited: restored, deleted: re-inserted, duplicated: removed).
2. :mod:`.runner`: in a fresh grading folder, start two processes, each in its
   own bubblewrap sandbox (:mod:`.sandbox`): a kernel that runs the notebook's
   cells under a per-cell and a whole-notebook time limit, a memory limit and an
   output cap (:mod:`.kernel`), to learn how far the notebook gets; and an answer
   process (:mod:`.answers`) that runs only the graded definitions
   (:mod:`.definitions`). Each check the notebook reached then runs in *this*
   process on proxies of the student's objects, and so do the instructor's
   hidden checks: no verdict is computed where the student's code runs. The
   submission's file is only ever read.
3. :mod:`.report`: ``grades.csv``, ``grades.json``, ``feedback/*.html``.

The cells are run by this module's own small Jupyter client rather than by
``pytest --nbval``: nbval cannot start the next kernel while one grades,
set resource limits on the kernel, cap output, or tell which check a cell was;
and ``pytest -n`` would split one notebook's cells across workers. The
semantics are nbval's ``--nbval-lax`` ones (a cell fails only if it raises,
and the notebook goes on).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import sandbox
from .batch import default_release, load_extra_checks, prepare, run_dask, run_local
from .kernel import Limits
from .notebooks import InvalidSubmission, Release
from .report import write_all
from .runner import STATUSES, Package
from .sandbox import SandboxUnavailable

__all__ = ["grade", "Limits", "Release", "InvalidSubmission", "STATUSES", "default_release", "SandboxUnavailable"]


def grade(submissions, out, *, release=None, workers=None, dask=None, extra_checks=(), limits=None,
          progress=False, overlap=True, sandboxed=True) -> list[dict]:
    """Grade ``submissions`` (notebooks or folders), write the reports to ``out``
    and return the rows in the order given. ``sandboxed=False`` grades without
    bubblewrap (see :mod:`.sandbox`); otherwise a machine without it raises
    :class:`SandboxUnavailable` before anything runs."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers!r}")
    if sandboxed and not dask:
        sandbox.check()
    release = Release(release or default_release())
    limits = limits or Limits()
    hidden = load_extra_checks(extra_checks, release)
    items = prepare(submissions, release, hidden, limits, Package.installed(), sandboxed)
    jobs = [item for item in items if not isinstance(item, dict)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="notebook", file=sys.stderr, desc="grading")
        bar.update(len(items) - len(jobs))

    def done(row):
        if bar is not None:
            bar.update(1)

    if not jobs:
        graded = []
    elif dask:
        graded = run_dask(jobs, dask, done)
    else:
        graded = run_local(jobs, workers, done, overlap)
    if bar is not None:
        bar.close()
    by_index = {row["index"]: row for row in graded}
    rows = Grades(by_index.get(item.index) if not isinstance(item, dict) else item for item in items)
    rows.earlier = write_all(rows, Path(out))
    return rows


class Grades(list):
    """The rows, in the order given; ``earlier`` is where an earlier run's reports
    in the same folder were moved (None if there were none)."""

    earlier: Path | None = None
