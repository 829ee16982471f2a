"""A class's submissions: find them, prepare their jobs, grade them in parallel.

Locally, ``workers`` threads each drive one kernel at a time (the kernels are
separate processes, so the threads only wait on them) and start the next
submission's kernel before grading the current one. With ``dask=ADDRESS`` each
submission is one task on an existing Dask distributed cluster. Either way the
rows come back in the order of the submissions given, whatever finishes first.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import queue
import threading
from pathlib import Path

from . import runner
from .kernel import Limits
from .notebooks import InvalidSubmission, Release, read_notebook, restore_checks
from .runner import HiddenCheck, Job, Package


def default_release() -> Path:
    """``./exercises`` when it exists, else the ``exercises/`` beside the installed package
    (a source checkout or an editable install)."""
    here = Path("exercises")
    if here.is_dir() and any(here.glob("*.ipynb")):
        return here
    import resilience_lab

    return Path(resilience_lab.__file__).resolve().parent.parent / "exercises"


def find_submissions(paths) -> list[tuple[str, str, Path | None, str]]:
    """``(student, file, path, problem)`` for each notebook: a folder is one student
    and gives each ``*.ipynb`` under it; a file is its own student (named by its stem)."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            notebooks = sorted(p for p in path.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts and p.is_file())
            if not notebooks:
                found.append((path.name, str(path), None, "no notebook (*.ipynb) in this folder"))
            for notebook in notebooks:
                found.append((path.resolve().name, str(notebook), notebook, ""))
        elif path.is_file():
            found.append((path.stem, str(path), path, ""))
        else:
            found.append((path.stem or str(path), str(path), None, "no such file or folder"))
    return found


def load_extra_checks(paths, release: Release) -> list[HiddenCheck]:
    """Instructor-only checks: Python files (or folders of them) that set
    ``EXERCISE = "<exercise name>"`` and define checks with
    ``@graded("id", points=N, hint="...")``, each taking the student's namespace."""
    files = []
    for raw in paths or ():
        path = Path(raw)
        files.extend(sorted(path.glob("*.py")) if path.is_dir() else [path])
    taken = {c.id for e in release.exercises.values() for c in e.checks}
    hidden = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, str(path))
        exercise = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "EXERCISE"
                                                    for t in node.targets):
                exercise = ast.literal_eval(node.value)
        if exercise not in release.exercises:
            raise ValueError(f"{path}: EXERCISE = {exercise!r} is not a released exercise "
                             f"({', '.join(sorted(release.exercises))})")
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "graded"
                        or getattr(getattr(decorator, "func", None), "attr", None) == "graded"):
                    check_id = ast.literal_eval(decorator.args[0])
                    options = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
                    if check_id in taken:
                        raise ValueError(f"{path}: check id {check_id!r} is already used")
                    taken.add(check_id)
                    hidden.append(HiddenCheck(check_id, int(options.get("points", 0)), options.get("hint", ""),
                                              node.name, exercise, source, str(path), _student_names(node)))
        if not any(h.origin == str(path) for h in hidden):
            raise ValueError(f"{path}: no @graded(...) check found")
    return hidden


def _student_names(function: ast.FunctionDef) -> list[str]:
    """The names a hidden check reads from its ``student`` argument: ``student["x"]``,
    ``student.get("x")``."""
    if not function.args.args:
        return []
    student = function.args.args[0].arg
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == student \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            names.add(node.slice.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == student and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return sorted(names)


def prepare(submissions, release: Release, hidden: list[HiddenCheck], limits: Limits,
            package: Package, sandboxed: bool = True) -> list:
    """One entry per notebook: a :class:`Job`, or a finished row (status ``invalid``)."""
    from ..checks import MEASURED, REGISTRY, load_all

    load_all()
    items = []
    for index, (student, file, path, problem) in enumerate(find_submissions(submissions)):
        try:
            if problem:
                raise InvalidSubmission(problem)
            try:
                data = path.read_bytes()
            except OSError as error:
                raise InvalidSubmission(f"cannot read the file: {error.strerror or error}") from None
            notebook = read_notebook(data)
            exercise = release.identify(notebook)
        except InvalidSubmission as error:
            items.append(runner.blank_result(index, student, file, status="invalid", reason=str(error)))
            continue
        restored, changes = restore_checks(notebook, exercise)
        cells = []
        for cell in restored.cells:
            if cell.cell_type != "code":
                continue
            check = cell.metadata.get("resilience_lab", {}).get("check")
            cells.append(("check", cell.source, check) if check else ("code", cell.source, None))
        checks = [(c.id, c.points, REGISTRY[c.id].hint if c.id in REGISTRY else "", c.arguments)
                  for c in exercise.checks]
        modules = sorted({REGISTRY[c.id].function.__module__ for c in exercise.checks if c.id in REGISTRY
                          and any(key.startswith(REGISTRY[c.id].function.__module__ + ":") for key in MEASURED)})
        mine = [h for h in hidden if h.exercise == exercise.name]
        items.append(Job(index, student, file, exercise.name, cells, checks, mine, modules, changes, package, limits,
                         sandboxed))
    return items


def run_local(jobs: list[Job], workers: int, on_done, overlap: bool = True) -> list[dict]:
    """Grade ``jobs`` with ``workers`` threads, each overlapping the next kernel's start-up
    (``overlap=False``, for the benchmark only: start each kernel when its turn comes)."""
    results = {}
    todo = queue.Queue()
    for job in jobs:
        todo.put(job)
    lock = threading.Lock()

    def take():
        try:
            return todo.get_nowait()
        except queue.Empty:
            return None

    def work():
        job = take()
        current = runner.start(job) if job else None
        while current is not None:
            following = take() if overlap else None
            upcoming = runner.start(following) if following else None
            row = runner.finish(current)
            if not overlap:
                following = take()
                upcoming = runner.start(following) if following else None
            with lock:
                results[row["index"]] = row
            on_done(row)
            current = upcoming

    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers!r}")
    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(workers, len(jobs))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[job.index] for job in jobs]


def grade_job(job: Job, package: Package | None = None) -> dict:
    """One submission, start to finish (the task a Dask worker runs)."""
    if package is not None:
        job = dataclasses.replace(job, package=package)
    return runner.finish(runner.start(job))


def run_dask(jobs: list[Job], address: str, on_done) -> list[dict]:
    from distributed import Client, as_completed

    with Client(address) as client:
        # The package's source goes to each worker once, not with every task.
        package = client.scatter(jobs[0].package, broadcast=True)
        futures = [client.submit(grade_job, dataclasses.replace(job, package=None), package,
                                 key=f"resilience-lab-grade-{job.index}-{os.getpid()}-{id(jobs)}",
                                 pure=False, retries=0) for job in jobs]
        results = {}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as error:  # a lost worker: that row says so, the others go on
                job = jobs[futures.index(future)]
                row = runner.blank_result(job.index, job.student, job.file, job.exercise, job.checks, job.hidden,
                                          status="error", reason=f"dask task failed: {type(error).__name__}: {error}")
            results[row["index"]] = row
            on_done(row)
    return [results[job.index] for job in jobs]
