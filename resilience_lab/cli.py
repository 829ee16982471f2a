"""The ``resilience-lab`` command.

- ``resilience-lab make-exercises [--check]``: generate ``exercises/`` from ``solutions/``.
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="resilience-lab", description="The resilience-lab course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("make-exercises", help="generate exercises/ from solutions/")
    make.add_argument("--solutions", default="solutions", help="folder of solution notebooks (default: solutions)")
    make.add_argument("--exercises", default="exercises", help="folder to write (default: exercises)")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if any exercise is out of date")
    make.set_defaults(run=_make_exercises)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
