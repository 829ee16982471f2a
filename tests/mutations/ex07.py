"""Exercise 7, a chaos experiment for the shop: answers written differently, and mistakes.

The experiment lives in cell-06 as ``experiment()``, the fix in cell-15 as
``protect(world)``. :func:`experiment_cell` writes an experiment (a dict built from
the solution's, changed) as the JSON a student could paste, parsed in the cell.
"""

import copy
import json

EXERCISE = "07-chaos-engineering"
MODULE = "resilience_lab.lessons.chaos_providers"
USERS = {"service": "web", "caller": "client", "window": 5}


def provider(func, **arguments):
    return {"type": "python", "module": MODULE, "func": func, "arguments": arguments}


def probe(name, func, tolerance, **arguments):
    return {"type": "probe", "name": name, "tolerance": tolerance, "provider": provider(func, **arguments)}


def action(name, func, **arguments):
    return {"type": "action", "name": name, "provider": provider(func, **arguments)}


SOLUTION = {
    "title": "The shop keeps serving its users when reviews answer in 3 s",
    "description": "Reviews are optional.",
    "steady-state-hypothesis": {"title": "web answers its users fast and without errors", "probes": [
        probe("users' p99 latency (s)", "p99_latency", [0, 0.5], **USERS),
        probe("users' requests failed", "error_rate", [0, 0.01], **USERS),
    ]},
    "method": [action("reviews answer in 3 s", "inject_latency", service="reviews", seconds=3.0),
               action("let it act", "wait", seconds=30)],
    "rollbacks": [action("reviews are fast again", "end_faults")],
    "controls": [{"name": "abort criteria", "provider": {"type": "python", "module": MODULE, "arguments": {
        "probes": [probe("users failing", "error_rate", [0, 0.2], **USERS)]}}}],
}


def changed(change):
    experiment = copy.deepcopy(SOLUTION)
    change(experiment)
    return experiment


def experiment_cell(experiment):
    return {"cell-06": "import json\n\n\ndef experiment():\n"
                       f"    return json.loads({json.dumps(experiment)!r})\n"}


def protect_cell(body):
    return {"cell-15": "def protect(world):\n" + body}


def _set(path, value):
    def change(e):
        *keys, last = path
        target = e
        for key in keys:
            target = target[key]
        target[last] = value
    return change


YAML_CELL = '''import yaml

SHOP_YAML = """
title: Reviews hang, the shop does not
description: A hung reviews service must not take the shop down.
steady-state-hypothesis:
  title: users are served
  probes:
    - type: probe
      name: users' p99 (s)
      tolerance: [0, 0.8]
      provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: p99_latency,
                 arguments: {service: web, caller: client}}
    - type: probe
      name: users failing
      tolerance: [0, 0.02]
      provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: error_rate,
                 arguments: {service: web, caller: client}}
method:
  - type: action
    name: reviews hang
    provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: take_down,
               arguments: {service: reviews, mode: hang}}
  - type: action
    name: wait
    provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: wait,
               arguments: {seconds: 40}}
rollbacks:
  - type: action
    name: reviews back
    provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: end_faults}
controls:
  - name: stop the damage
    provider:
      type: python
      module: resilience_lab.lessons.chaos_providers
      arguments:
        probes:
          - type: probe
            name: users failing, over 4 s
            tolerance: [0, 0.3]
            provider: {type: python, module: resilience_lab.lessons.chaos_providers, func: error_rate,
                       arguments: {service: web, caller: client, window: 4}}
"""


def experiment():
    return yaml.safe_load(SHOP_YAML)
'''

FROM_THE_LESSON = {"cell-06": '''import json

from resilience_lab.lessons import chaos


def experiment():
    """The lesson's file, moved to the shop: A is web, B is reviews, B 2.5 s slow."""
    text = json.dumps(chaos.lesson_experiment()).replace('"A"', '"web"').replace('"B"', '"reviews"')
    found = json.loads(text)
    found["method"][0]["provider"]["arguments"]["seconds"] = 2.5
    return found
'''}

CORRECT = {
    "reviews-hang-in-yaml": {"cell-06": YAML_CELL},
    "the-lesson-file-moved-to-the-shop": FROM_THE_LESSON,
    "range-tolerances-goodput-and-a-latency-abort": experiment_cell(changed(lambda e: e.update({
        "steady-state-hypothesis": {"title": "fast and busy", "probes": [
            probe("users' p99", "p99_latency", {"type": "range", "range": [0, 0.6]}, **USERS),
            probe("good answers per second", "ok_per_second", {"type": "range", "range": [30, 100000]}, **USERS),
        ]},
        "controls": [{"name": "abort", "provider": {"type": "python", "module": MODULE, "arguments": {
            "probes": [probe("users' p99 under 1.5 s", "p99_latency", [0, 1.5], **USERS)]}}}],
    }))) | protect_cell("    world.protect('web', 'reviews', Fallback(), Timeout(0.15))\n    return world\n"),
    "a-breaker-too": protect_cell(
        "    from resilience_lab.lessons.chaos import CircuitBreaker\n"
        "    world.protect('web', 'reviews', Fallback(), CircuitBreaker(failure_rate=0.5, window=10.0,\n"
        "                  minimum_calls=20), Timeout(0.3))\n"
        "    return world\n"),
}

WRONG = {
    "errors-do-not-find-a-slow-dependency": (experiment_cell(changed(_set(
        ["method", 0], action("reviews fail", "inject_errors", service="reviews", rate=1.0)))), "l7-exposes"),
    "tolerances-too-strict-for-the-healthy-shop": (experiment_cell(changed(_set(
        ["steady-state-hypothesis", "probes", 0, "tolerance"], [0, 0.02]))), "l7-exposes"),
    "the-fault-on-web-itself": (experiment_cell(changed(_set(
        ["method", 0], action("web slow", "inject_latency", service="web", seconds=3.0)))), "l7-exposes"),
    "vacuous-tolerances": (experiment_cell(changed(lambda e: (
        _set(["steady-state-hypothesis", "probes", 0, "tolerance"], [0, 1000])(e),
        _set(["steady-state-hypothesis", "probes", 1, "tolerance"], [0, 1])(e)))), "l7-not-vacuous"),
    "one-probe-that-can-never-fail": (experiment_cell(changed(_set(
        ["steady-state-hypothesis", "probes", 1, "tolerance"], [0, 1]))), "l7-not-vacuous"),
    "measures-reviews-behind-the-fallback": (experiment_cell(changed(_set(
        ["steady-state-hypothesis", "probes"],
        [probe("reviews p99", "p99_latency", [0, 0.5], service="reviews"),
         probe("reviews failing", "error_rate", [0, 0.01], service="reviews")]))), "l7-not-vacuous"),
    "no-abort-criteria": (experiment_cell(changed(_set(["controls"], []))), "l7-abort"),
    "abort-criteria-that-never-fire": (experiment_cell(changed(_set(
        ["controls", 0, "provider", "arguments", "probes", 0, "tolerance"], [0, 1]))), "l7-abort"),
    "abort-criteria-that-fire-on-the-fixed-shop": (experiment_cell(changed(_set(
        ["controls", 0, "provider", "arguments", "probes"],
        [probe("users' p99 under 0.2 s", "p99_latency", [0, 0.2], **USERS)]))), "l7-abort"),
    "no-time-for-the-fault-to-act": (experiment_cell(changed(_set(["method"], [SOLUTION["method"][0]]))),
                                     "l7-valid"),
    "no-rollback": (experiment_cell(changed(_set(["rollbacks"], []))), "l7-valid"),
    "a-shell-command-as-provider": (experiment_cell(changed(_set(
        ["method", 0, "provider"], {"type": "process", "path": "sh", "arguments": "-c true"}))), "l7-valid"),
    "timeout-outside-the-fallback": (protect_cell(
        "    world.protect('web', 'reviews', Timeout(0.3), Fallback())\n    return world\n"), "l7-fix"),
    "timeout-still-too-long": (protect_cell(
        "    world.protect('web', 'reviews', Fallback(), Timeout(4.0))\n    return world\n"), "l7-fix"),
    "a-timeout-and-no-fallback": (protect_cell(
        "    world.protect('web', 'reviews', Timeout(0.3))\n    return world\n"), "l7-fix"),
}
