"""Run the benchmarks: ``python -m benchmarks [NAME ...] [--quick]``. See ``__init__``."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import pkgutil
import sys
import time

import benchmarks
from benchmarks import RESULTS, machine


def discover() -> dict:
    """Benchmark modules by name: every public module of this package with ``run``."""
    found = {}
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        if callable(getattr(module, "run", None)):
            found[info.name] = module
    return found


def write_summary() -> None:
    """``results/summary.md`` from every benchmark's latest ``results/NAME.json``."""
    summary = ["# Benchmark results", ""]
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        quick = " (--quick: sizes reduced)" if result.get("quick") else ""
        summary += [f"## {result.get('title', path.stem)}", "",
                    f"{result.get('when', '')}; {result.get('machine', '')}; took {result.get('seconds')} s{quick}", "",
                    *result.get("lines", []), ""]
    (RESULTS / "summary.md").write_text("\n".join(summary))


def main(argv=None) -> int:
    found = discover()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(found)})")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to try a change quickly")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in found]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(found)}")
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or list(found):
        run = found[name].run
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        result = run(quick=args.quick) if "quick" in inspect.signature(run).parameters else run()
        result = result if isinstance(result, dict) else {"result": result}
        result.setdefault("machine", machine())
        result["when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result["quick"] = args.quick
        result["seconds"] = round(time.perf_counter() - began, 1)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        print("\n".join(result.get("lines", [])), flush=True)
    write_summary()
    print(f"written to {RESULTS.relative_to(benchmarks.ROOT)}/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
