"""The whole course: every lesson and solution notebook run top to bottom.

Each notebook in ``notebooks/`` and ``solutions/`` is executed in a fresh kernel
(``nbclient``, as the tests do), one after another, and timed from kernel start
to the end of its last cell. A last cell, added to the copy in memory only, asks
the kernel for its peak resident memory (``VmHWM``) and its CPU time: the
memory a student's kernel needs after running the lesson top to bottom.

The course runs ``rounds`` times (3) in whole passes. Reported: the median
total, and per notebook the median time and kernel peak memory. Target: the
whole course under 2 minutes on 2 cores. Notebooks run one at a time here, so
the total is what one core does; with ``--quick``, only lesson 1 runs, once,
for trying a change.
"""

from __future__ import annotations

import time

import nbformat
from nbclient import NotebookClient

from benchmarks import ROOT, median

TARGET = 120.0
# Peak memory from /proc's VmHWM, the kernel's own high-water mark: on Linux,
# ru_maxrss also counts the memory of the process that launched the kernel, as
# it stood when the kernel was forked from it.
PEAK = ("import resource as _r, re as _re; _u = _r.getrusage(_r.RUSAGE_SELF)\n"
        "try:\n"
        "    _peak = int(_re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "except (OSError, AttributeError):\n"
        "    _peak = _u.ru_maxrss\n"
        "print('kernel-cpu-s', _u.ru_utime + _u.ru_stime, 'peak-rss-kib', _peak)")


def notebooks(quick: bool = False):
    paths = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    return paths[:1] if quick else paths


def execute(path):
    """(wall seconds, kernel CPU seconds, peak kernel memory in MiB, cells that raised) for one notebook."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PEAK))
    client = NotebookClient(notebook, timeout=600, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    began = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - began
    errors = sum(1 for c in notebook.cells if c.cell_type == "code"
                 for o in c.outputs if o.output_type == "error")
    text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    words = text.split()
    if "peak-rss-kib" in words:
        cpu, peak = float(words[words.index("kernel-cpu-s") + 1]), float(words[-1]) / 1024
    else:
        cpu = peak = float("nan")
    return seconds, cpu, peak, errors


def run(quick: bool = False, rounds: int = 3) -> dict:
    rounds = 1 if quick else rounds
    paths = notebooks(quick)
    runs = {path.relative_to(ROOT).as_posix(): [] for path in paths}
    totals, totals_cpu = [], []
    for number in range(rounds):  # whole rounds, so each total is one pass over the course
        total = total_cpu = 0.0
        for path in paths:
            seconds, cpu, peak, errors = execute(path)
            runs[path.relative_to(ROOT).as_posix()].append((seconds, cpu, peak, errors))
            total, total_cpu = total + seconds, total_cpu + cpu
            print(f"  round {number + 1}: {path.relative_to(ROOT)}: {seconds:.1f} s, kernel CPU {cpu:.1f} s, "
                  f"{peak:.0f} MiB", flush=True)
        totals.append(total)
        totals_cpu.append(total_cpu)
    rows = {
        name: {"seconds": median([r[0] for r in rs]), "kernel_cpu_seconds": median([r[1] for r in rs]),
               "peak_mib": median([r[2] for r in rs]), "errors": max(r[3] for r in rs)}
        for name, rs in runs.items()
    }
    total, total_cpu = median(totals), median(totals_cpu)
    lessons = {k: v for k, v in rows.items() if k.startswith("notebooks/")}
    lines = [
        f"{len(rows)} notebooks, each in a fresh kernel, one after another; median of {rounds} rounds "
        f"({', '.join(f'{t:.0f}' for t in totals)} s): **{total:.0f} s in all** "
        f"(target under {TARGET:.0f} s: " + ("met)" if total < TARGET else "MISSED)")
        + f"; the kernels' own CPU time, imports included: {total_cpu:.0f} s (the rest is launching",
        "the kernels, their messaging, and waiting for a core on a busy machine).",
        "",
        "Per notebook, medians over the rounds:",
        "",
        "| notebook | wall seconds | kernel CPU seconds | kernel peak memory |",
        "|---|---|---|---|",
        *[f"| `{name}` | {r['seconds']:.1f} | {r['kernel_cpu_seconds']:.1f} | {r['peak_mib']:.0f} MiB |"
          for name, r in rows.items()],
    ]
    if lessons:
        largest = max(lessons.items(), key=lambda kv: kv[1]["peak_mib"])
        lines += ["", f"Largest lesson kernel after running top to bottom: {largest[1]['peak_mib']:.0f} MiB "
                      f"(`{largest[0]}`)."]
    failed = [name for name, r in rows.items() if r["errors"]]
    if failed:
        lines.append(f"Cells raised errors in: {', '.join(failed)} (graded checks raise on purpose only in exercises).")
    return {"title": "The whole course, executed", "lines": lines, "notebooks": rows, "total_seconds": total,
            "total_kernel_cpu_seconds": total_cpu, "round_totals": totals, "runs": runs}
