"""No false zeros: correct work graded again and again always gets full marks.

Before the fix, about 1 grading in 14 of a correct notebook ended as ``timeout``
with 0 points: the first cell went to a kernel whose IOPub subscription was not
yet live, its ``idle`` was lost, and the grader waited out the cell's limit
(ZeroMQ's "slow joiner"). The kernel now answers ``kernel_info`` and shows an
IOPub message before the first cell is sent, and a cell whose shell reply came
stops waiting for ``idle`` after :data:`~resilience_lab.grading.kernel.IDLE_GRACE`.

The batch test grades one correct notebook 200 times, across one and two workers,
with and without overlapping the next kernel's start-up. The notebook is lesson
1's, solved, without the cell importing the lesson (so each kernel starts in
about half a second: the race is in start-up, not in what the cells do).
"""

import importlib.util
import queue
import time
from pathlib import Path

import nbformat
import pytest

from resilience_lab.grading import Limits, grade, kernel, sandbox

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "exercises"
RUNS = {(1, True): 50, (1, False): 50, (2, True): 50, (2, False): 50}


def _build():
    spec = importlib.util.spec_from_file_location("corpus_build", ROOT / "tests" / "grading_corpus" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workers, overlap", sorted(RUNS), ids=lambda v: str(v))
def test_a_correct_notebook_never_scores_zero(workers, overlap, tmp_path):
    build = _build()
    notebook = build.with_code({**build.RIGHT, "cell-02": "import math"})
    path = tmp_path / "correct.ipynb"
    nbformat.write(notebook, path)
    count = RUNS[(workers, overlap)]
    rows = grade([str(path)] * count, tmp_path / "out", release=RELEASE, workers=workers, overlap=overlap,
                 limits=Limits(cell_timeout=30, notebook_timeout=120), sandboxed=sandbox.available())
    wrong = [(r["status"], r["reason"], r["total"]) for r in rows if (r["status"], r["total"]) != ("ok", 10)]
    assert len(rows) == count and wrong == []


class _Silent:
    """A kernel client whose cell gets its shell reply but whose ``idle`` never comes."""

    def __init__(self, msg_id):
        self.msg_id, self.replied = msg_id, False

    def get_shell_msg(self, timeout=None):
        if self.replied:
            raise queue.Empty
        self.replied = True
        return {"parent_header": {"msg_id": self.msg_id}, "msg_type": "execute_reply", "content": {"status": "ok"}}

    def get_iopub_msg(self, timeout=None):
        time.sleep(timeout or 0)
        raise queue.Empty


class _Running:
    def poll(self):
        return None


class _Quiet:
    def poll(self, timeout=0):
        return 0


def test_a_cell_whose_reply_came_does_not_wait_for_a_lost_idle():
    k = object.__new__(kernel.Kernel)
    k.client, k.process, k.monitor = _Silent("cell-1"), _Running(), _Quiet()
    k.limits, k.output_used = Limits(), 0
    began = time.monotonic()
    run = k.collect("cell-1", timeout=30)
    took = time.monotonic() - began
    assert run.ended is None and run.error is None
    assert kernel.IDLE_GRACE <= took < kernel.IDLE_GRACE + 1.5, took
