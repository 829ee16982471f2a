"""Live widgets: from a slider change to a finished redraw.

Each measurement moves one slider of a panel to a new value and times until the
panel's own render path has finished (the world re-simulated, the figure's data
updated, the PNG the widget shows encoded): ``control.value = x`` fires the
widget's observer, which submits the setting to the panel's ``LatestWins``
runner, and ``runner.wait()`` returns when that run is done. No front end is
attached, so the time a browser takes to paint the PNG is not included.

- **reference scale**, the floor no lesson may go below: 30 s of simulated time at
  100 requests per second through a chain of three services (client -> C1 -> C2
  -> C3, C3 slowed by the slider). Targets: median under 300 ms, 95th
  percentile under 500 ms.
- **each lesson's default panel**: every ``panel()`` in ``resilience_lab.lessons``,
  its first slider moved through ``CHANGES`` values.
- **latest setting wins**: ``CHANGES`` settings submitted at once must not queue
  ``CHANGES`` runs; reported: how many runs happened and how long until the
  last setting was on screen.

Where the time goes at the reference scale (median over the same number of
runs): simulation, figure update, PNG encoding.
"""

from __future__ import annotations

import importlib
import pkgutil
import time

from benchmarks import Stopwatch, median, percentile

CHANGES = 30
TARGET_MEDIAN, TARGET_P95 = 0.300, 0.500


def reference_world():
    """client -> C1 -> C2 -> C3 at 100 requests per second; 1 ms of work in C1 and C2."""
    from resilience_lab import LogNormal, World

    world = World(seed=1)
    world.service("C3", workers=100, latency=LogNormal(0.02))
    world.service("C2", workers=100, latency=0.001, calls=["C3"])
    world.service("C1", workers=100, latency=0.001, calls=["C2"])
    world.load("C1", rate=100.0)
    return world


def reference_panel():
    from resilience_lab.figures.panel import FaultPanel

    return FaultPanel(reference_world(), until=30.0, window=(10.0, 20.0), controls={"C3": ["latency"]},
                      services=["C1", "C2", "C3"], title="reference scale: client → C1 → C2 → C3")


def first_slider(panel):
    for name, control in panel.controls.items():
        if all(hasattr(control, a) for a in ("min", "max", "step")):
            return name, control
    raise ValueError(f"{type(panel).__name__} has no slider among {list(panel.controls)}")


def slider_values(control, count):
    """``count`` values across the slider's range, none equal to its neighbour or current value."""
    steps = max(1, round((control.max - control.min) / control.step))
    picks = [control.min + control.step * round(steps * ((k * 7) % count + 0.5) / count) for k in range(count)]
    picks = [type(control.value)(min(control.max, p)) for p in picks]
    values, previous = [], control.value
    for v in picks:
        if v == previous:
            v = type(control.value)(control.max if v != control.max else control.min)
        values.append(v)
        previous = v
    return values


def redraw_times(panel, changes=CHANGES):
    """(wall seconds, CPU seconds of this process) from each slider change to the end of its redraw."""
    _, control = first_slider(panel)
    wall, cpu = [], []
    for value in slider_values(control, changes):
        began, began_cpu = time.perf_counter(), time.process_time()
        control.value = value
        panel.runner.wait()
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return wall, cpu


def latest_wins(panel, changes=CHANGES):
    """(runs done, seconds until the last setting was drawn) for ``changes`` rapid changes."""
    _, control = first_slider(panel)
    before = panel.runner.runs
    began = time.perf_counter()
    for value in slider_values(control, changes):
        control.value = value
    panel.runner.wait()
    return panel.runner.runs - before, time.perf_counter() - began


def breakdown(changes=CHANGES):
    """Median CPU seconds of simulation, figure update and PNG at the reference scale."""
    from resilience_lab.figures.run import RunFigure

    world = reference_world()
    world.inject_latency("C3", 0.3, start=10.0, end=20.0)
    figure = RunFigure(["C1", "C2", "C3"])
    parts = {"simulate": [], "update figure": [], "encode PNG": []}
    for _ in range(changes):
        with Stopwatch() as t:
            result = world.run(30.0)
        parts["simulate"].append(t.cpu)
        with Stopwatch() as t:
            figure.update(result)
        parts["update figure"].append(t.cpu)
        with Stopwatch() as t:
            figure.png()
        parts["encode PNG"].append(t.cpu)
    return {k: median(v) for k, v in parts.items()}


def lesson_panels():
    """``{"module.factory": factory}`` for every lesson function named ``panel`` or
    ``*_panel`` that needs no argument: each lesson's default scenario."""
    import inspect

    import resilience_lab.lessons as lessons

    found = {}
    for info in pkgutil.iter_modules(lessons.__path__):
        module = importlib.import_module(f"resilience_lab.lessons.{info.name}")
        for name, factory in vars(module).items():
            if not (name == "panel" or name.endswith("_panel")) or not inspect.isfunction(factory):
                continue
            if factory.__module__ != module.__name__:
                continue  # imported from elsewhere
            required = [p for p in inspect.signature(factory).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if not required:
                found[f"{info.name}.{name}" if name != "panel" else info.name] = factory
    return found


def calls_per_redraw(panel):
    """Calls the panel's last redraw simulated (every hop counts): its scale. The runs of
    the world are looked for in what the panel drew (a run, or dicts and tuples holding
    runs); None for a panel that draws something else (a lesson's own small simulation)."""
    from resilience_lab.world.metrics import RunResult

    runs = []

    def look(value, depth=0):
        if isinstance(value, RunResult):
            runs.append(value)
        elif depth < 3 and isinstance(value, dict):
            for item in value.values():
                look(item, depth + 1)
        elif depth < 3 and isinstance(value, (list, tuple)):
            for item in value:
                look(item, depth + 1)

    look(getattr(panel, "results", None) or getattr(panel, "result", None))
    return sum(len(r.start) for r in runs) if runs else None


def stats(times, panel):
    wall, cpu = times
    return {"median": median(wall), "p95": percentile(wall, 95), "max": max(wall), "changes": len(wall),
            "cpu_median": median(cpu), "cpu_p95": percentile(cpu, 95), "calls": calls_per_redraw(panel)}


def row(label, s):
    calls = f"{s['calls']:,}" if s["calls"] is not None else "(its own simulation)"
    return (f"| {label} | {calls} | {s['median'] * 1000:.0f} ms | {s['p95'] * 1000:.0f} ms | "
            f"{s['cpu_median'] * 1000:.0f} ms | {s['cpu_p95'] * 1000:.0f} ms |")


def run(quick: bool = False) -> dict:
    changes = 10 if quick else CHANGES
    out = {"title": "Live widgets: slider change to finished redraw", "changes": changes}
    panel = reference_panel()
    ref = stats(redraw_times(panel, changes), panel)
    out["reference"] = ref
    met = ref["median"] < TARGET_MEDIAN and ref["p95"] < TARGET_P95
    met_cpu = ref["cpu_median"] < TARGET_MEDIAN and ref["cpu_p95"] < TARGET_P95
    lines = [
        f"Over {changes} slider changes each, through the panel's own render path (simulate, update, PNG).",
        "Wall time is what a student waits; CPU time (this process, all threads) is the same work",
        "without the waiting for a core that other programs on the machine cause. Calls count every",
        "hop, so that column compares each panel's scale with the reference's.",
        "",
        "| panel | calls simulated per redraw | wall median | wall p95 | CPU median | CPU p95 |",
        "|---|---|---|---|---|---|",
        row("reference scale (30 s, 100 req/s, 3 services)", ref),
    ]
    out["lessons"] = {}
    for name, factory in lesson_panels().items():
        try:
            panel = factory()
            slider, _ = first_slider(panel)
            figures = stats(redraw_times(panel, changes), panel)
        except Exception as error:  # report, do not stop the other benchmarks
            out["lessons"][name] = {"error": repr(error)}
            lines.append(f"| lesson `{name}` | could not measure: {error!r} | | | | |")
            continue
        figures["slider"] = str(slider)
        out["lessons"][name] = figures
        lines.append(row(f"lesson `{name}` (slider {slider})", figures))
    lines += ["", f"Reference-scale targets (median < {TARGET_MEDIAN * 1000:.0f} ms, p95 < "
              f"{TARGET_P95 * 1000:.0f} ms): wall time " + ("met" if met else "MISSED")
              + ", CPU time " + ("met." if met_cpu else "MISSED.")]
    runs, took = latest_wins(reference_panel(), changes)
    out["latest_wins"] = {"changes": changes, "runs": runs, "seconds": took}
    lines.append(f"Latest setting wins: {changes} changes submitted at once ran {runs} times; the last "
                 f"setting was drawn {took * 1000:.0f} ms after the first change.")
    parts = breakdown(changes)
    out["breakdown"] = parts
    lines.append("Where the time goes at the reference scale (CPU medians): "
                 + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items()) + ".")
    out["lines"] = lines
    return out
