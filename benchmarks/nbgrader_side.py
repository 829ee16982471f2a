"""nbgrader 0.9, set up and timed beside resilience-lab's grader (used by ``benchmarks/grading.py``).

Not a benchmark of its own (it has no ``run``): ``grading.py`` calls it so that
nbgrader's figure is measured in the same run, on the same machine, as ours.

- :func:`prepare` makes a separate virtual environment in
  ``benchmarks/results/nbgrader-venv/`` (not committed) with the Python running
  the benchmark (``python -m venv``) and ``pip install "nbgrader>=0.9,<0.10"``
  from the package index; the project's ``.venv`` and its pins are never
  touched. A venv that already imports nbgrader 0.9 is reused. If it cannot be
  had, :class:`Unavailable` says why, and the caller reports nbgrader as skipped.
- :func:`make_template` writes, in nbgrader's own format, a five-question
  assignment equivalent to ``grading.py``'s five-question notebook (five
  one-line functions as ``### BEGIN SOLUTION`` cells, five one-point autograded
  test cells with an ``assert`` each), runs ``nbgrader generate_assignment`` on
  it and puts N correct student submissions in ``submitted/<student>/<assignment>/``.
- :func:`autograde` copies that course into a fresh folder and times
  ``nbgrader autograde <assignment> --force`` over all N submissions, wall clock
  from the command's start to its end (so nbgrader's own start-up is in the
  figure, as it is for an instructor typing the command), then reads the scores
  back with ``nbgrader export`` and raises unless every submission got 5 of 5:
  a broken setup cannot give a fast but meaningless time.

Every nbgrader command runs with the nbgrader venv's Python, in the course
folder (nbgrader's course root is the working directory), with the Jupyter
configuration and data folders pointed at empty temporary ones, so nothing in
``~/.jupyter`` and no kernel spec outside the venv is used: the kernel is the
venv's ``python3`` (ipykernel comes with nbgrader; installed into the venv with
``ipykernel install --prefix`` if its spec is missing).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from benchmarks import RESULTS

VENV = RESULTS / "nbgrader-venv"
REQUIREMENT = "nbgrader>=0.9,<0.10"
ASSIGNMENT = "bench-five"
NOTEBOOK = "bench-five.ipynb"
KERNEL = "python3"
INSTALL_TIMEOUT = 1200
COMMAND_TIMEOUT = 1800
KERNELSPEC = {"name": KERNEL, "display_name": "Python 3 (ipykernel)", "language": "python"}


class Unavailable(RuntimeError):
    """nbgrader could not be installed or run here; the message is the reason."""


def _tail(text: str, lines: int = 12) -> str:
    """The last ``lines`` lines of a command's output, on one line (for the results)."""
    return " | ".join(line.strip() for line in (text or "").strip().splitlines()[-lines:] if line.strip())


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def environment(venv: Path, home: Path) -> dict:
    """The environment of every nbgrader command: this process's, without any
    Python or Jupyter setting, with the venv first on the PATH and Jupyter's
    config, data and runtime folders in ``home`` (empty, so only the venv's
    kernel spec and no user configuration are found)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "CONDA"))}
    for name in ("config", "data", "runtime"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    return env


def installed_version(python: Path) -> str | None:
    """nbgrader's version in the venv of ``python``, or None if it does not import."""
    if not python.exists():
        return None
    try:
        done = subprocess.run([str(python), "-c", "import nbgrader; print(nbgrader.__version__)"],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


def _wanted(version: str | None) -> bool:
    return bool(version) and version.split(".")[:2] == ["0", "9"]


def prepare(venv: Path = VENV, log=print) -> dict:
    """The nbgrader venv, made (or reused) and checked: ``{"python", "version",
    "reused", "install_seconds"}``. Raises :class:`Unavailable` with the reason."""
    python = venv_python(venv)
    version = installed_version(python)
    reused = _wanted(version)
    began = time.perf_counter()
    if not reused:
        log(f"nbgrader: making {venv} with {REQUIREMENT!r} from the package index (a minute or so)")
        steps = [([sys.executable, "-m", "venv", "--clear", str(venv)], "python -m venv"),
                 ([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   REQUIREMENT], f"pip install {REQUIREMENT!r}")]
        for command, what in steps:
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise Unavailable(f"{what} did not finish in {INSTALL_TIMEOUT} s") from None
            except OSError as error:
                raise Unavailable(f"{what} could not start: {error}") from None
            if done.returncode != 0:
                errors = "\n".join(line for line in done.stderr.splitlines()
                                   if not line.startswith("WARNING: Location"))
                raise Unavailable(f"{what} failed (exit {done.returncode}): {_tail(errors or done.stdout)}")
        version = installed_version(python)
        if not _wanted(version):
            raise Unavailable(f"after {REQUIREMENT!r} was installed, nbgrader imports as {version!r}")
    spec = venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    if not spec.exists():
        done = subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(venv)],
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            raise Unavailable(f"ipykernel install --prefix {venv} failed: {_tail(done.stderr)}")
    return {"python": str(python), "version": version, "reused": reused,
            "install_seconds": 0.0 if reused else round(time.perf_counter() - began, 1)}


def kernel_python(python: Path, home: Path) -> str:
    """The Python that nbgrader's ``python3`` kernel will run, as jupyter_client
    resolves it in the isolated environment (must be the venv's own)."""
    probe = ("import sys; from jupyter_client.kernelspec import KernelSpecManager as K\n"
             "argv = K().get_kernel_spec(%r).argv\n"
             "print(sys.executable if argv[0] in ('python', 'python3', 'python%%d.%%d' %% sys.version_info[:2])"
             " else argv[0])" % KERNEL)
    venv = python.parent.parent
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120,
                          env=environment(venv, home))
    if done.returncode != 0:
        raise Unavailable(f"no {KERNEL!r} kernel spec in the nbgrader venv: {_tail(done.stderr)}")
    return done.stdout.strip()


def _nbgrader(python: Path, course: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def _cell(source: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": "", "locked": False, "schema_version": 3,
                                 "solution": False, "task": False, **nbgrader}
    return cell


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's notebook: the five questions of ``grading._five_question``
    (``qN(x)`` returns ``x + N``), each an answer cell and a one-point test cell."""
    cells = [nbformat.v4.new_markdown_cell("# Five questions\n\nYou will be able to add numbers.")]
    for n in range(1, 6):
        cells.append(_cell(f"def q{n}(x):\n    ### BEGIN SOLUTION\n    return x + {n}\n    ### END SOLUTION",
                           grade_id=f"q{n}", solution=True))
        cells.append(_cell(f"assert q{n}(1) == {1 + n}, 'add {n}'",
                           grade_id=f"test_q{n}", grade=True, locked=True, points=1))
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC)})


def answered(released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student's correct submission: the released notebook (as ``generate_assignment``
    left it, ``raise NotImplementedError()`` in each answer cell) with each answer written."""
    notebook = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            n = int(meta["grade_id"][1:])
            cell.source = f"def q{n}(x):\n    return x + {n}"
    return notebook


def students(count: int) -> list[str]:
    return [f"student{k:03d}" for k in range(count)]


def make_template(course: Path, count: int, python: Path, home: Path) -> Path:
    """A course folder with the generated assignment, its gradebook and ``count``
    correct submissions, to be copied fresh for each timed run."""
    venv = python.parent.parent
    env = environment(venv, home)
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'resilience-lab-bench'\n"
        f"c.ExecutePreprocessor.kernel_name = {KERNEL!r}\n")
    nbformat.write(source_notebook(), course / "source" / ASSIGNMENT / NOTEBOOK)
    done = _nbgrader(python, course, env, "generate_assignment", ASSIGNMENT, "--force")
    released = course / "release" / ASSIGNMENT / NOTEBOOK
    if done.returncode != 0 or not released.exists():
        raise Unavailable(f"nbgrader generate_assignment failed (exit {done.returncode}): {_tail(done.stderr)}")
    student_notebook = answered(nbformat.read(released, as_version=4))
    if "NotImplementedError" not in released.read_text():
        raise Unavailable("nbgrader generate_assignment left the solutions in the released notebook")
    for student in students(count):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(student_notebook, folder / NOTEBOOK)
        (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    return course


def autograde(template: Path, work: Path, python: Path, home: Path, expected_points: int = 5,
              keep: int | None = None) -> dict:
    """Copy ``template`` to a fresh ``work`` folder (with only its first ``keep``
    submissions, if given), time ``nbgrader autograde`` there and check the scores:
    ``{"seconds", "submissions", "scores"}``. Raises :class:`RuntimeError` if the
    command fails or any submission lacks full points."""
    venv = python.parent.parent
    env = environment(venv, home)
    shutil.copytree(template, work)
    if keep is not None:
        for extra in sorted((work / "submitted").iterdir())[keep:]:
            shutil.rmtree(extra)
    command = [str(python), "-m", "nbgrader", "autograde", ASSIGNMENT, "--force",
               f"--ExecutePreprocessor.kernel_name={KERNEL}"]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed (exit {done.returncode}): {_tail(done.stderr)}")
    export = work / "grades.csv"
    exported = _nbgrader(python, work, env, "export", "--to", str(export))
    if exported.returncode != 0 or not export.exists():
        raise RuntimeError(f"nbgrader export failed (exit {exported.returncode}): {_tail(exported.stderr)}")
    with export.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT]
    submitted = {p.name for p in (work / "submitted").iterdir()}
    scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in rows}
    wrong = {s: scores.get(s) for s in submitted if scores.get(s) != (expected_points, expected_points)}
    if wrong:
        shown = dict(sorted(wrong.items())[:5])
        raise RuntimeError(f"nbgrader did not award {expected_points}/{expected_points} to {len(wrong)} of "
                           f"{len(submitted)} submissions (score, max): {shown}; autograde said: {_tail(done.stderr)}")
    return {"seconds": seconds, "submissions": len(submitted), "scores": scores}
