"""The ``resilience-lab`` command.

- ``resilience-lab make-exercises [--check]``: generate ``exercises/`` from ``solutions/``.
- ``resilience-lab grade SUBMISSION... [--out DIR]``: grade notebooks (see :mod:`resilience_lab.grading`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _make_exercises(args) -> int:
    from .authoring import AuthoringError, make_exercises

    try:
        changed = make_exercises(Path(args.solutions), Path(args.exercises), check=args.check)
    except AuthoringError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        for path in changed:
            print(f"out of date: {path} (run `make exercises`)")
        return 1 if changed else 0
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("exercises are up to date")
    return 0


def _grade(args) -> int:
    from .grading import Limits, SandboxUnavailable, grade

    try:
        limits = Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.timeout,
                        memory=int(args.memory * 1024**2), output=int(args.output * 1024))
        if args.no_sandbox:
            print("warning: grading without a sandbox: each notebook can read and change what your user can "
                  "(other submissions, the solutions, the grades). Use it only for work you trust.", file=sys.stderr)
        rows = grade(args.submissions, args.out, release=args.release, workers=args.workers, dask=args.dask,
                     extra_checks=args.extra_checks, limits=limits, progress=not args.quiet,
                     sandboxed=not args.no_sandbox)
    except (FileNotFoundError, ValueError, SyntaxError, SandboxUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for row in rows:
        status = row["status"] + (f" ({row['reason']})" if row["reason"] and row["status"] != "ok" else "")
        print(f"{row['total']:>4} / {row['maximum']:<4} {row['student']}  {row['file']}  {status}")
    print(f"wrote {Path(args.out) / 'grades.csv'}, grades.json and feedback/ ({len(rows)} notebooks)")
    if rows.earlier is not None:
        print(f"kept the earlier grades of that folder in {rows.earlier}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="resilience-lab", description="The resilience-lab course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-exercises", help="generate exercises/ from solutions/")
    make.add_argument("--solutions", default="solutions", help="folder of solution notebooks (default: solutions)")
    make.add_argument("--exercises", default="exercises", help="folder to write (default: exercises)")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if any exercise is out of date")
    make.set_defaults(run=_make_exercises)
    grade = commands.add_parser("grade", help="grade submitted notebooks: grades.csv, grades.json, feedback pages")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                       help="a notebook, or a folder of one student's notebooks")
    grade.add_argument("--out", default="grades", help="folder for the reports (default: grades)")
    grade.add_argument("--release", default=None,
                       help="folder of the released exercise notebooks (default: ./exercises if present, "
                            "else the exercises/ beside the installed package)")
    grade.add_argument("--extra-checks", action="append", default=[], metavar="PATH",
                       help="instructor-only checks: a .py file or a folder of them (repeatable)")
    grade.add_argument("--workers", type=int, default=None, help="notebooks graded at once (default: cores)")
    grade.add_argument("--dask", default=None, metavar="SCHEDULER_ADDRESS",
                       help="grade on an existing Dask distributed cluster instead of local workers")
    grade.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell (default: 60)")
    grade.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook (default: 300)")
    grade.add_argument("--memory", type=float, default=2048, help="MiB of address space per kernel (default: 2048)")
    grade.add_argument("--output", type=float, default=1024, help="KiB of output per notebook (default: 1024)")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="grade without the bubblewrap sandbox (where bwrap is missing); only for trusted work")
    grade.add_argument("--quiet", action="store_true", help="no progress bar")
    grade.set_defaults(run=_grade)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
