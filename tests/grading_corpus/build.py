"""Writes the grading corpus: submissions of exercise 1 made for the grader's tests.

Run from the repository root: ``.venv/bin/python tests/grading_corpus/build.py``.
Each submission starts from the released exercise and replaces cells by id, the
way a student edits the notebook. tests/test_grading.py states, for each file,
the status and points the grader must give.
"""

import copy
import json
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
EXERCISE = HERE.parent.parent / "exercises" / "01-cascading-failures.ipynb"

# Correct, but not the solution's code.
RIGHT = {
    "cell-04": '''def max_throughput(workers, latency):
    # each worker completes 1/latency calls per second
    per_worker = 1.0 / latency
    return workers * per_worker''',
    "cell-07": '''def time_to_fill(workers, arrival_rate, latency):
    in_flight = arrival_rate * latency   # Little's law: L = lambda * W
    if in_flight < workers:
        return math.inf
    return workers / arrival_rate''',
    "cell-10": '''def backlog(workers, arrival_rate, latency, duration):
    served = max_throughput(workers, latency)
    excess = arrival_rate - served
    return max(excess, 0.0) * duration''',
    "cell-13": '''def breaking_latency(workers, arrival_rate):
    from fractions import Fraction
    return float(Fraction(workers) / Fraction(arrival_rate))''',
}
WRONG = {
    "cell-04": "def max_throughput(workers, latency):\n    return workers * latency",
    "cell-07": "def time_to_fill(workers, arrival_rate, latency):\n    return workers / latency",
    "cell-10": "def backlog(workers, arrival_rate, latency, duration):\n    return (arrival_rate - workers / latency) * duration",
    "cell-13": "def breaking_latency(workers, arrival_rate):\n    return 0.0",
}
PASS_LINE = 'print("PASS  {id}  {points}/{points} points")'


def base():
    return nbformat.read(EXERCISE, as_version=4)


def cell(notebook, cell_id):
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def with_code(code, notebook=None):
    notebook = notebook or base()
    for cell_id, source in code.items():
        cell(notebook, cell_id).source = source
    return notebook


def insert_after(notebook, cell_id, source, new_id):
    index = [c.get("id") for c in notebook.cells].index(cell_id)
    new = nbformat.v4.new_code_cell(source)
    new.id = new_id
    notebook.cells.insert(index + 1, new)
    return notebook


def tamper(prelude, code=WRONG):
    """Wrong answers, plus ``prelude`` run right after the exercise's import cell."""
    return insert_after(with_code(code), "cell-02", prelude, "tamper")


def build():
    out = {}
    out["correct-different.ipynb"] = insert_after(with_code(RIGHT), "cell-01",
                                                  "# my notes: N workers, W seconds each\nimport math", "notes")
    out["correct-lambdas.ipynb"] = with_code({
        "cell-04": "max_throughput = lambda workers, latency: workers / latency",
        "cell-07": "import functools\n\ndef _fill(workers, arrival_rate, latency, never=math.inf):\n"
                   "    return never if arrival_rate * latency < workers else workers / arrival_rate\n\n"
                   "time_to_fill = functools.partial(_fill, never=math.inf)",
        "cell-10": "import numpy as np\n\ndef backlog(workers, arrival_rate, latency, duration):\n"
                   "    return float(np.clip((arrival_rate - workers / latency) * duration, 0, None))",
        "cell-13": "class _Limit:\n    def __call__(self, workers, arrival_rate):\n"
                   "        return workers / arrival_rate\n\nbreaking_latency = _Limit()",
    })
    # A thread started in one cell floods while later cells run (here: once cell-07 says go).
    out["background-flood.ipynb"] = with_code({**RIGHT, "cell-04": RIGHT["cell-04"] + (
        "\n\nimport threading\n\ngo = threading.Event()\n\ndef _chatter():\n    go.wait()\n"
        "    while True:\n        print('chatter ' * 500)\n\n"
        "threading.Thread(target=_chatter, daemon=True).start()"),
        "cell-07": RIGHT["cell-07"] + "\n\nimport time\ngo.set()\ntime.sleep(3)"})
    out["my homework FINAL (2).ipynb"] = with_code(RIGHT)  # renamed: identified by metadata, not name
    out["partly-wrong.ipynb"] = with_code({**RIGHT, "cell-07": WRONG["cell-07"], "cell-10": WRONG["cell-10"]})
    out["alice/exercise1.ipynb"] = with_code({"cell-04": RIGHT["cell-04"]})
    out["alice/scratch.ipynb"] = with_code({})  # a folder can hold several notebooks

    stripped = with_code(RIGHT)
    del stripped.metadata["resilience_lab"]
    out["stripped-metadata.ipynb"] = stripped

    # Check cells edited, deleted and duplicated; the student's own cells are kept.
    edited = with_code({**RIGHT, "cell-07": WRONG["cell-07"]})
    cell(edited, "cell-08").source = PASS_LINE.format(id="l1-fill-time", points=2)
    edited.cells = [c for c in edited.cells if c.get("id") != "cell-11"]
    duplicate = copy.deepcopy(cell(edited, "cell-05"))
    duplicate.id = "copy-of-cell-05"
    edited.cells.insert(5, duplicate)
    out["edited-checks.ipynb"] = edited

    # Runaway notebooks: the first function is right, then the notebook misbehaves.
    first = {"cell-04": RIGHT["cell-04"]}
    out["infinite-loop.ipynb"] = with_code({**first, "cell-07": "while True:\n    pass"})
    out["sys-exit.ipynb"] = with_code({**first, "cell-07": "import sys\nsys.exit()"})
    out["os-exit.ipynb"] = with_code({**first, "cell-07": "import os\nos._exit(3)"})
    out["kernel-crash.ipynb"] = with_code({**first, "cell-07": "import ctypes\nctypes.string_at(0)"})
    out["memory-bomb.ipynb"] = with_code(
        {**first, "cell-07": "hoard = []\nwhile True:\n    hoard.append(bytearray(64 * 1024 * 1024))"})
    out["output-flood.ipynb"] = with_code({**first, "cell-07": 'while True:\n    print("spam " * 2000)'})

    # Tampering with grading at run time, with wrong answers. Run bare, each of these prints PASS.
    out["tamper-replace-checks.ipynb"] = tamper(
        "for name, check_id, points in [('check_max_throughput', 'l1-max-throughput', 2),\n"
        "                               ('check_fill_time', 'l1-fill-time', 2),\n"
        "                               ('check_backlog', 'l1-backlog', 3),\n"
        "                               ('check_breaking_latency', 'l1-breaking-latency', 3)]:\n"
        "    setattr(checks, name, lambda f, c=check_id, p=points: print(f'PASS  {c}  {p}/{p} points'))")
    out["tamper-assertion.ipynb"] = tamper(
        "import builtins\n"
        "import resilience_lab.checks as core\n"
        "class AssertionError(Exception):\n"
        "    pass\n"
        "builtins.AssertionError = AssertionError\n"
        "core.expect_close.__code__ = (lambda *args, **kwargs: None).__code__\n"
        "math.isclose = lambda *args, **kwargs: True\n"
        "builtins.abs = lambda x: 0\n")
    out["tamper-module.ipynb"] = tamper(
        "import itertools, types\n"
        "queues = itertools.cycle([0.0, 100.0])\n"
        "checks.expect_close = lambda *args, **kwargs: None\n"
        "checks.abs = lambda x: 0\n"
        "checks.math = types.SimpleNamespace(isclose=lambda *a, **k: True, inf=math.inf)\n"
        "real = checks.lesson\n"
        "checks.lesson = types.SimpleNamespace(\n"
        "    measured_throughput=lambda *a: max_throughput(50, 0.5), measured_fill_time=lambda *a: 0.0,\n"
        "    measured_queue=lambda *a: next(queues), saturation_world=real.saturation_world,\n"
        "    mean_b_latency=real.mean_b_latency, SLOWDOWN=real.SLOWDOWN)")
    out["tamper-sys-modules.ipynb"] = tamper(
        "import sys, types\n"
        "import resilience_lab.checks\n"
        "fake = types.ModuleType('resilience_lab.checks.lesson01')\n"
        "for name in ['check_max_throughput', 'check_fill_time', 'check_backlog', 'check_breaking_latency']:\n"
        "    setattr(fake, name, lambda f, n=name: print(f'PASS  {n}'))\n"
        "sys.modules['resilience_lab.checks.lesson01'] = fake\n"
        "resilience_lab.checks.lesson01 = fake\n"
        "checks = fake")
    out["tamper-package-files.ipynb"] = tamper(
        "import importlib, pathlib\n"
        "import resilience_lab.checks\n"
        "source = pathlib.Path(checks.__file__)\n"
        "text = source.read_text()\n"
        "text = text.replace('def check_max_throughput(max_throughput):', "
        "'def check_max_throughput(max_throughput):\\n    return')\n"
        "for name in ['fill_time(time_to_fill)', 'backlog(backlog)', 'breaking_latency(breaking_latency)']:\n"
        "    text = text.replace(f'def check_{name}:', f'def check_{name}:\\n    return')\n"
        "source.write_text(text)\n"
        "resilience_lab.checks.REGISTRY.clear()\n"
        "checks = importlib.reload(checks)")

    # Attacks on where the verdict is decided. Every one has wrong answers and earns nothing:
    # the verdicts are computed in the grader's process from the answers alone.
    # 1. Speak for the grader: print PASS lines and publish verdict messages, and wrap any
    #    entry point of the grader's that the kernel may hold so it judges an empty check.
    out["attack-fake-guard.ipynb"] = tamper(
        "import sys, types\n"
        "from IPython.display import publish_display_data\n"
        "def run(check_id, nonce, kind, payload, *rest):\n"
        "    publish_display_data({'application/vnd.resilience-lab.check+json':\n"
        "                          {'check': check_id, 'nonce': nonce, 'passed': True, 'message': ''}})\n"
        "    print(f'PASS  {check_id}  3/3 points')\n"
        "for name in list(sys.modules):\n"
        "    if 'grader' in name and hasattr(sys.modules[name], 'run'):\n"
        "        real = sys.modules[name].run\n"
        "        sys.modules[name].run = lambda check_id, nonce, kind, payload: real(check_id, nonce, 'cell', 'pass')\n"
        "fake = types.ModuleType('_resilience_lab_grader')\n"
        "fake.run = run\n"
        "sys.modules['_resilience_lab_grader'] = fake")
    # 2. An import hook, installed by the graded definition itself, that hands out a fake `sys`
    #    and a fake checks module to whoever imports them after it.
    out["attack-import-hook.ipynb"] = with_code({**WRONG, "cell-04": (
        "import importlib.abc, importlib.machinery, sys, types\n\n"
        "class _Fake(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('sys', 'resilience_lab.checks', 'resilience_lab.checks.lesson01', 'math'):\n"
        "            return importlib.machinery.ModuleSpec(name, self)\n"
        "    def create_module(self, spec):\n"
        "        return types.SimpleNamespace(isclose=lambda *a, **k: True, CheckFailed=Warning,\n"
        "                                     expect_close=lambda *a, **k: None, inf=float('inf'))\n"
        "    def exec_module(self, module):\n"
        "        pass\n\n"
        "for _name in ('math', 'resilience_lab.checks', 'resilience_lab.checks.lesson01'):\n"
        "    sys.modules.pop(_name, None)\n"
        "sys.meta_path.insert(0, _Fake())\n\n"
        "def max_throughput(workers, latency):\n"
        "    sys.meta_path.insert(0, _Fake())\n"
        "    return workers * latency")})
    # 3. Mutate the state the checks read (the settings, the cached simulation, the comparison
    #    helpers) from a decorator of each graded function, so it runs wherever they are defined.
    mutate = ("import functools, types\n"
              "import resilience_lab.checks as core\n"
              "import resilience_lab.checks.lesson01 as l1\n\n"
              "def _loosen(function):\n"
              "    core.expect_close = l1.expect_close = lambda *a, **k: None\n"
              "    l1.math = types.SimpleNamespace(isclose=lambda *a, **k: True, inf=float('inf'))\n"
              "    l1.abs = lambda x: 0\n"
              "    l1.RATE, l1.WORKERS, l1.HOLD = 1.0, 1, 1.0\n"
              "    l1._slow_b_run.cache_clear()\n"
              "    real = getattr(l1.lesson, 'real', l1.lesson)\n"
              "    l1.lesson = types.SimpleNamespace(measured_throughput=lambda *a: 50.0, measured_fill_time=lambda *a: 0.0,\n"
              "                                      measured_queue=lambda *a: 0.0, SLOWDOWN=0.5, real=real,\n"
              "                                      saturation_world=real.saturation_world)\n"
              "    l1._slow_b_run = lambda *a: None\n"
              "    return function\n\n")
    out["attack-mutate-state.ipynb"] = with_code({
        "cell-04": mutate + "@_loosen\n" + WRONG["cell-04"],
        "cell-07": "@_loosen\n" + WRONG["cell-07"],
        "cell-10": "@_loosen\n" + WRONG["cell-10"],
        "cell-13": "@_loosen\n" + WRONG["cell-13"]})
    # 4. Walk the stack and the heap from inside the graded function to the code judging it.
    out["attack-frame-walk.ipynb"] = with_code({**WRONG, "cell-04": (
        "import gc, sys\n\n"
        "def max_throughput(workers, latency):\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for space in (frame.f_locals, frame.f_globals):\n"
        "            for key in ('expected', 'predicted', 'measured'):\n"
        "                if key in space and isinstance(space[key], float):\n"
        "                    return space[key]\n"
        "            if 'expect_close' in space:\n"
        "                space['expect_close'] = lambda *a, **k: None\n"
        "        frame = frame.f_back\n"
        "    for thing in gc.get_objects():\n"
        "        if isinstance(thing, dict) and 'check_max_throughput' in thing:\n"
        "            thing['expect_close'] = lambda *a, **k: None\n"
        "    return workers * latency")})
    # 5. An IPython input transformer that rewrites every check cell before it runs.
    out["attack-input-transformer.ipynb"] = tamper(
        "def _neuter(lines):\n"
        "    return [f\"print('PASS  {line.split('(')[0].split('_', 1)[1]}')\\n\" if 'checks.check_' in line else line\n"
        "            for line in lines]\n"
        "get_ipython().input_transformers_post.append(_neuter)")
    # 6. Swell the grader's memory: an answer of 60 MB (the grader accepts 8 MiB at most).
    out["attack-huge-answer.ipynb"] = with_code({**RIGHT, "cell-04": (
        "def max_throughput(workers, latency):\n"
        "    return 'x' * 60_000_000")})

    unknown = with_code(RIGHT)
    unknown.metadata["resilience_lab"]["exercise"] = "99-no-such-exercise"
    out["unknown-exercise.ipynb"] = unknown

    for name, notebook in out.items():
        path = HERE / "submissions" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    # Saved by an older Jupyter: nbformat 4.4, no cell ids (check cells known by metadata only).
    old = json.loads(nbformat.writes(with_code(RIGHT)))
    old["nbformat_minor"] = 4
    for raw_cell in old["cells"]:
        raw_cell.pop("id", None)
    (HERE / "submissions" / "old-format-no-ids.ipynb").write_text(json.dumps(old, indent=1) + "\n", encoding="utf-8")
    raw = {
        "empty.ipynb": b"",
        "invalid-json.ipynb": (HERE / "submissions" / "correct-different.ipynb").read_bytes()[:700],
        "not-a-notebook.ipynb": json.dumps({"name": "bob", "answers": [1, 2, 3]}).encode(),
        "essay.txt": b"I believe the pool fills in N / lambda seconds.\n",
        "binary.ipynb": bytes(range(256)) * 4,
    }
    for name, data in raw.items():
        (HERE / "submissions" / name).write_bytes(data)


if __name__ == "__main__":
    build()
