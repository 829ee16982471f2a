"""Grading one submission: its notebook run in a kernel, its answers judged here.

A :class:`Job` carries everything the work needs (the restored notebook, the
exercise's checks, hidden checks, the package's source and the limits), so the
same function grades locally or on a Dask worker on another machine.

:func:`start` makes the submission's grading folder and launches, each in its
own sandbox (:mod:`.sandbox`), the notebook's kernel and its answer process
(:mod:`.answers`); a worker calls it for the next submission before it calls
:func:`finish` for the current one, so start-up overlaps grading.

:func:`finish` then

1. runs the student's cells in order in the kernel, under the time, memory and
   output limits; a check cell is not run there, only *reached*. A notebook
   that stops (a time limit, a crash, ``sys.exit()``, memory, output) reaches
   no later check. The kernel computes nothing the grade depends on: it only
   tells how far the notebook got and which cells raised;
2. has the answer process run the graded definitions (:mod:`.definitions`),
   and runs each reached check **in this process**, on proxies of the
   student's objects: the reference and the comparison never enter a process
   the student's code runs in. Then the instructor's hidden checks, whose code
   is never sent anywhere;
3. kills both sandboxes (and with them everything the submission started) and
   removes the grading folder.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox
from .answers import SERVER, Answers
from .definitions import select, statements
from .kernel import Kernel, Limits

STATUSES = {
    "ok": "the notebook ran to the end",
    "timeout": "a cell or the whole notebook ran past its time limit",
    "crashed": "the kernel died (os._exit, a crash, a signal)",
    "exited": "the notebook called sys.exit() or raised SystemExit",
    "memory": "the notebook ran out of its memory limit",
    "output": "the notebook printed more than the output cap",
    "invalid": "not a gradable notebook",
    "error": "the grader could not run the notebook",
}
#: Package modules whose import into the graded definitions means the reference was used.
REFERENCE_IMPORTS = ("resilience_lab.patterns", "resilience_lab.world")


@dataclass(frozen=True)
class Package:
    """The pristine source of ``resilience_lab``, read once by the grader."""

    files: tuple[tuple[str, bytes], ...]  # (path relative to the package's parent, bytes)

    @classmethod
    def installed(cls) -> "Package":
        import resilience_lab

        root = Path(resilience_lab.__file__).resolve().parent
        # Its Python files, and the data files lessons read (lesson 7's experiment files).
        files = [(p.relative_to(root.parent).as_posix(), p.read_bytes())
                 for p in sorted(root.rglob("*")) if p.suffix in (".py", ".json") and "__pycache__" not in p.parts]
        return cls(tuple(files))

    @property
    def digest(self) -> str:
        text = repr(sorted((name, hashlib.sha256(data).hexdigest()) for name, data in self.files))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class HiddenCheck:
    """An instructor-only check from ``--extra-checks``: run in the grader, never shown as code."""

    id: str
    points: int
    hint: str
    function: str
    exercise: str
    source: str  # the module's source
    origin: str  # the file it came from
    names: list = field(default_factory=list)  # what it reads as student["name"]


@dataclass
class Job:
    index: int
    student: str
    file: str
    exercise: str
    cells: list  # [(kind, source, check id or None)], kind "code" / "check"
    checks: list  # [(id, points, hint, argument names)], released checks in order
    hidden: list  # [HiddenCheck]
    modules: list  # check modules whose measurements the answer process needs
    restored: list  # what restore_checks changed
    package: Package
    limits: Limits
    sandboxed: bool = True


def blank_result(index, student, file, exercise="", checks=(), hidden=(), status="ok", reason=""):
    entries = {}
    for check_id, points, hint, *_ in checks:
        entries[check_id] = {"points": 0, "max": points, "passed": False, "reached": False,
                             "message": "", "hint": hint, "hidden": False}
    for check in hidden:
        entries[check.id] = {"points": 0, "max": check.points, "passed": False, "reached": False,
                             "message": "", "hint": check.hint, "hidden": True}
    return {"index": index, "student": student, "file": file, "exercise": exercise, "status": status,
            "reason": reason, "checks": entries, "total": 0, "maximum": sum(e["max"] for e in entries.values()),
            "restored": [], "cell_errors": [], "flags": [], "seconds": 0.0}


# ---------------------------------------------------------------- the package copy

_pristine: dict[str, str] = {}
_pristine_lock = threading.Lock()


def pristine_dir(package: Package) -> str:
    """A folder holding the package's pristine source and bytecode, made once per
    process (on a Dask worker too); sandboxes see it read-only."""
    with _pristine_lock:
        if package.digest not in _pristine:
            root = tempfile.mkdtemp(prefix="rl-grader-package-")
            atexit.register(shutil.rmtree, root, True)
            for name, data in package.files:
                target = Path(root, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            subprocess.run([sys.executable, "-m", "compileall", "-q", root], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _pristine[package.digest] = root
        return _pristine[package.digest]


# ---------------------------------------------------------------- one submission


@dataclass
class Pending:
    job: Job
    folder: str = ""
    kernel: Kernel | None = None
    answers: Answers | None = None
    error: str = ""
    started: float = field(default_factory=time.monotonic)


def start(job: Job) -> Pending:
    """Make the folder and launch the kernel and the answer process; do not wait for them."""
    pending = Pending(job)
    try:
        pending.folder = tempfile.mkdtemp(prefix="rl-grade-")
        package_dir = pristine_dir(job.package)
        if not job.sandboxed:  # its own copy, so that edits reach no other submission
            package_dir = os.path.join(pending.folder, ".grader")
            shutil.copytree(pristine_dir(job.package), package_dir)
        env = sandbox.environment(pending.folder, package_dir)
        if job.sandboxed:
            def wrap(argv):
                return sandbox.command(argv, pending.folder, [package_dir])
        else:
            env["JPY_PARENT_PID"] = str(os.getpid())  # the kernel exits if the grader dies

            def wrap(argv):
                return argv
        pending.kernel = Kernel(pending.folder, env, job.limits, wrap=wrap)
        limits = job.limits
        cpu = int(limits.notebook_timeout + limits.cell_timeout * (len(job.checks) + len(job.hidden) + 1))
        server = os.path.join(package_dir, "resilience_lab", "grading", SERVER.name)
        pending.answers = Answers(wrap([sys.executable, "-P", server, str(limits.memory), str(cpu),
                                        str(limits.file_size)]), env, pending.folder)
        pending.answers.start()
    except Exception as error:  # a full disk, a missing interpreter: the row says so
        pending.error = f"could not start a kernel: {type(error).__name__}: {error}"
    return pending


def _stop(pending: Pending) -> None:
    for part in (pending.kernel, pending.answers):
        if part is not None:
            try:
                part.shutdown() if isinstance(part, Kernel) else part.kill()
            except Exception:
                pass
    if pending.folder:
        shutil.rmtree(pending.folder, ignore_errors=True)


def finish(pending: Pending) -> dict:
    """Run the submission's notebook, judge its answers, and return its row."""
    job = pending.job
    result = blank_result(job.index, job.student, job.file, job.exercise, job.checks, job.hidden)
    result["restored"] = list(job.restored)
    began = time.monotonic()
    try:
        problem = pending.error or pending.kernel.wait_ready(job.limits.startup_timeout)
        if problem and not pending.error:
            # No student code has run yet: a kernel that failed to start (a machine
            # short of memory or processes for a moment) is the grader's problem; try once more.
            _stop(pending)
            pending = start(job)
            problem = pending.error or pending.kernel.wait_ready(job.limits.startup_timeout)
        if problem:
            result.update(status="error", reason=f"the grading kernel did not start: {problem}")
        else:
            reached = _run_notebook(job, pending.kernel, result)
            pending.kernel.shutdown()
            pending.kernel = None
            _judge(job, pending.answers, result, reached)
    except Exception as error:  # never stop the batch
        result.update(status="error", reason=f"grader error: {type(error).__name__}: {error}")
    finally:
        _stop(pending)
    for entry in result["checks"].values():
        entry["points"] = entry["max"] if entry["passed"] else 0
        if not entry["reached"] and not entry["message"]:
            entry["message"] = f"not reached ({result['status']}: {result['reason']})"
    result["total"] = sum(e["points"] for e in result["checks"].values())
    result["seconds"] = round(time.monotonic() - began, 3)
    return result


def _run_notebook(job: Job, kernel: Kernel, result: dict) -> list:
    """Run the student's cells; return the ids of the checks the notebook reached,
    and, last, "hidden" if it ran to the end."""
    limits = job.limits
    deadline = time.monotonic() + limits.notebook_timeout
    reached = []
    for number, (kind, source, check_id) in enumerate(job.cells, start=1):
        where = f"code cell {number}"
        if kind == "check":
            reached.append(check_id)
            continue
        left = deadline - time.monotonic()
        run = kernel.collect(kernel.send(source, silent_history=False), min(limits.cell_timeout, left)) \
            if left > 0 else None
        if run is None or run.ended == "timeout":
            if run is None or left < limits.cell_timeout:
                result.update(status="timeout", reason=f"the notebook ran longer than its limit of "
                                                       f"{limits.notebook_timeout:g} s ({where})")
            else:
                result.update(status="timeout", reason=f"{where} ran longer than its limit of {limits.cell_timeout:g} s")
            return reached
        if run.ended == "output":
            result.update(status="output", reason=f"{where}: output passed the cap of {limits.output} bytes")
            return reached
        if run.ended == "died":
            description = kernel.exit_description()
            memory = "SIGKILL" in description or (run.error and run.error[0] == "MemoryError")
            result.update(status="memory" if memory else "crashed",
                          reason=f"{where}: {description}" + (f" (memory limit {limits.memory // 1024**2} MiB)"
                                                              if memory else ""))
            return reached
        if run.error:
            ename, evalue = run.error
            result["cell_errors"].append({"cell": number, "error": f"{ename}: {evalue}"[:500]})
            if ename == "MemoryError":
                result.update(status="memory", reason=f"{where} raised MemoryError "
                                                      f"(memory limit {limits.memory // 1024**2} MiB)")
                return reached
            if ename == "SystemExit":
                result.update(status="exited", reason=f"{where} called sys.exit() ({evalue})".replace(" ()", ""))
                return reached
    return reached + ["hidden"]


# ---------------------------------------------------------------- judging


def _graded_names(job: Job) -> set[str]:
    """Every name a check reads: the released check cells' arguments, and hidden checks' ``student["x"]``."""
    return {name for *_, names in job.checks for name in names} | {n for h in job.hidden for n in h.names}


def tools(job: Job) -> tuple[str, ...]:
    """Package modules the exercise hands the student as tools (``TOOLS`` in its
    checks' module, as the capstone's patterns): using them is the exercise, so
    importing or calling them raises no flag."""
    import importlib

    from ..checks import REGISTRY

    modules = sorted({REGISTRY[c].function.__module__ for c, *_ in job.checks if c in REGISTRY})
    return tuple(t for m in modules for t in getattr(importlib.import_module(m), "TOOLS", ()))


def program(job: Job) -> tuple[list, list[str]]:
    """What the answer process runs: the selected statements in notebook order,
    with a mark before each check cell (and one at the end for hidden checks);
    and a flag for each import of a reference implementation among them (not of
    the exercise's :func:`tools`)."""
    code = [(number, source) for number, (kind, source, _) in enumerate(job.cells, start=1) if kind == "code"]
    found = statements(code)
    kept = [found[i] for i in select(found, _graded_names(job))]
    items, position = [], 0
    marks = [(number, check_id) for number, (kind, _, check_id) in enumerate(job.cells, start=1) if kind == "check"]
    names = {check_id: list(args) for check_id, *_, args in job.checks}
    for number, check_id in marks:
        while position < len(kept) and kept[position].cell < number:
            statement = kept[position]
            items.append({"cell": statement.cell, "first_line": statement.first_line, "source": statement.source})
            position += 1
        items.append({"mark": check_id, "names": names.get(check_id, [])})
    for statement in kept[position:]:
        items.append({"cell": statement.cell, "first_line": statement.first_line, "source": statement.source})
    items.append({"mark": "hidden", "names": sorted({n for h in job.hidden for n in h.names})})
    allowed = tools(job)
    flags = [f"imports the reference implementation: code cell {s.cell} imports {module}"
             for s in kept for module in _imports(s.source)
             if module.startswith(REFERENCE_IMPORTS) and not (allowed and module.startswith(allowed))]
    return items, flags


def _imports(source: str) -> list[str]:
    import ast

    modules = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return modules


class StudentNamespace(dict):
    """What a hidden check gets as ``student``: the names it reads, as proxies."""

    def __missing__(self, name):
        raise KeyError(f"your notebook does not define {name!r} (an instructor check reads it)")


def _judge(job: Job, answers: Answers, result: dict, reached: list) -> None:
    from ..checks import REGISTRY, load_all, verdict

    load_all()  # on a Dask worker nothing has imported the checks yet
    items, flags = program(job)
    limits = job.limits
    loaded = answers.load(items, job.modules, limits.cell_timeout)
    if "failed" in loaded:
        for check_id in reached:
            if check_id in result["checks"]:
                result["checks"][check_id].update(reached=True, message=loaded["failed"])
        return
    errors = "; ".join(f"code cell {cell}: {text}" for cell, text in loaded.get("errors", [])[:3])
    checks = {check_id: (args, REGISTRY.get(check_id)) for check_id, *_, args in job.checks}
    for check_id in [c for c in reached if c in checks]:
        entry = result["checks"][check_id]
        entry["reached"] = True
        args, check = checks[check_id]
        if check is None:
            entry["message"] = f"the grader has no check {check_id!r} (a newer release than this package?)"
            continue
        loaded = answers.load(items, job.modules, limits.cell_timeout)  # again only if a check killed it
        values = (loaded.get("marks") or {}).get(check_id, {})
        missing = [name for name in args if values.get(name) is None]
        if "failed" in loaded or missing:
            entry["message"] = loaded.get("failed") or _undefined(missing, errors)
            continue
        answers.deadline = time.monotonic() + limits.cell_timeout
        passed, message = verdict(check.body, *[values[name] for name in args])
        entry.update(passed=passed, message=message)
    if "hidden" in reached:
        for hidden in job.hidden:
            entry = result["checks"][hidden.id]
            entry["reached"] = True
            loaded = answers.load(items, job.modules, limits.cell_timeout)
            if "failed" in loaded:
                entry["message"] = loaded["failed"]
                continue
            values = loaded.get("marks", {}).get("hidden", {})
            student = StudentNamespace({k: v for k, v in values.items() if v is not None})
            answers.deadline = time.monotonic() + limits.cell_timeout
            passed, message = verdict(_hidden_body(hidden), student)
            entry.update(passed=passed, message=message[:300])
    origins = (answers.loaded or {}).get("origins", {})
    flags += [f"{name} comes from the package ({origins[name]})" for name in sorted(_graded_names(job))
              if name in origins]
    if answers.alive():
        answers.deadline = time.monotonic() + 10
        try:
            used = answers.request("references")
        except Exception:
            used = {}
        allowed = tools(job)
        flags += [f"calls the reference implementation {name} ({count} times)" for name, count in used.items()
                  if not (allowed and name.startswith(allowed))]
    result["flags"] = flags


def _undefined(missing, errors) -> str:
    text = ", ".join(f"`{name}`" for name in missing)
    return (f"{text} {'is' if len(missing) == 1 else 'are'} not defined when this check runs. The grader runs "
            f"only your definitions and what they use, not your notebook's other code"
            + (f" ({errors})" if errors else ""))


_hidden_modules: dict[tuple[str, str], types.ModuleType] = {}
_hidden_lock = threading.Lock()


def _hidden_body(hidden: HiddenCheck):
    """The hidden check's function, its module loaded once per grader process
    (its ids kept out of the registry of the released checks)."""
    from .. import checks

    key = (hidden.origin, hashlib.sha256(hidden.source.encode()).hexdigest())
    with _hidden_lock:
        if key not in _hidden_modules:
            before = set(checks.REGISTRY)
            module = types.ModuleType(f"_resilience_lab_hidden_{secrets.token_hex(4)}")
            module.__file__ = hidden.origin
            try:
                exec(compile(hidden.source, hidden.origin, "exec"), module.__dict__)
            finally:
                for check_id in set(checks.REGISTRY) - before:
                    del checks.REGISTRY[check_id]
            _hidden_modules[key] = module
    function = _hidden_modules[key].__dict__[hidden.function]
    check = getattr(function, "check", None)
    return check.body if check is not None else function


__all__ = ["Job", "HiddenCheck", "Package", "Limits", "start", "finish", "blank_result", "STATUSES"]
