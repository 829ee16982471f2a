"""Grading one submission in a fresh folder and a fresh kernel.

A :class:`Job` carries everything the work needs (the restored notebook, the
exercise's checks, hidden checks, the package's source and the limits), so the
same function grades locally or on a Dask worker on another machine.
:func:`start` makes the folder, copies the pristine package into it and
launches the kernel, which begins importing the checks at once; :func:`finish`
runs the cells and returns the row. A worker calls ``start`` for the next
submission before ``finish`` for the current one, so kernel start-up overlaps
grading.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .kernel import Kernel, Limits

KERNEL_SIDE = (Path(__file__).with_name("kernel_side.py")).read_text(encoding="utf-8")

STATUSES = {
    "ok": "the notebook ran to the end",
    "timeout": "a cell or the whole notebook ran past its time limit",
    "crashed": "the kernel died (os._exit, a crash, a signal)",
    "exited": "the notebook called sys.exit() or raised SystemExit",
    "memory": "the notebook ran out of its memory limit",
    "output": "the notebook printed more than the output cap",
    "tampered": "the notebook changed the grader's package files; no points",
    "invalid": "not a gradable notebook",
    "error": "the grader could not run the notebook",
}


@dataclass(frozen=True)
class Package:
    """The pristine source of ``resilience_lab``, read once by the grader."""

    files: tuple[tuple[str, bytes], ...]  # (path relative to the package's parent, bytes)

    @classmethod
    def installed(cls) -> "Package":
        import resilience_lab

        root = Path(resilience_lab.__file__).resolve().parent
        files = [(p.relative_to(root.parent).as_posix(), p.read_bytes())
                 for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts]
        return cls(tuple(files))

    @property
    def hashes(self) -> dict[str, str]:
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.files}

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(sorted(self.hashes.items())).encode()).hexdigest()[:16]


@dataclass
class HiddenCheck:
    """An instructor-only check from ``--extra-checks``: never shown as code."""

    id: str
    points: int
    hint: str
    function: str
    exercise: str
    source: str  # the module's source
    origin: str  # the file it came from


@dataclass
class Job:
    index: int
    student: str
    file: str
    exercise: str
    cells: list  # [(kind, source, check id or None)], kind "code" / "check"
    checks: list  # [(id, points, hint)], released checks in order
    hidden: list  # [HiddenCheck]
    bindings: dict
    modules: list  # check modules to import before the student's code
    restored: list  # what restore_checks changed
    package: Package
    limits: Limits


def blank_result(index, student, file, exercise="", checks=(), hidden=(), status="ok", reason=""):
    entries = {}
    for check_id, points, hint in checks:
        entries[check_id] = {"points": 0, "max": points, "passed": False, "reached": False,
                             "message": "", "hint": hint, "hidden": False}
    for check in hidden:
        entries[check.id] = {"points": 0, "max": check.points, "passed": False, "reached": False,
                             "message": "", "hint": check.hint, "hidden": True}
    return {"index": index, "student": student, "file": file, "exercise": exercise, "status": status,
            "reason": reason, "checks": entries, "total": 0, "maximum": sum(e["max"] for e in entries.values()),
            "restored": [], "cell_errors": [], "seconds": 0.0}


# ---------------------------------------------------------------- the package copy

_pristine: dict[str, str] = {}
_pristine_lock = threading.Lock()


def pristine_dir(package: Package) -> str:
    """A folder holding the package's pristine source and bytecode, made once per
    process (on a Dask worker too); each submission gets a copy of it."""
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


def _changed_files(package: Package, root: str) -> list[str]:
    changed = []
    for name, digest in package.hashes.items():
        try:
            data = Path(root, name).read_bytes()
        except OSError:
            changed.append(name)
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            changed.append(name)
    return changed


# ---------------------------------------------------------------- one submission


@dataclass
class Pending:
    job: Job
    folder: str = ""
    kernel: Kernel | None = None
    setup_id: str = ""
    setup_reply: dict | None = None
    key: str = ""
    error: str = ""
    started: float = field(default_factory=time.monotonic)


def start(job: Job) -> Pending:
    """Make the folder and launch the kernel; do not wait for it."""
    pending = Pending(job)
    try:
        pending.folder = tempfile.mkdtemp(prefix="rl-grade-")
        package_dir = os.path.join(pending.folder, ".grader")
        shutil.copytree(pristine_dir(job.package), package_dir)
        env = dict(os.environ)
        for name in ("PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT"):
            env.pop(name, None)
        env.update(PYTHONPATH=package_dir, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", JPY_PARENT_PID=str(os.getpid()),
                   IPYTHONDIR=os.path.join(pending.folder, ".ipython"), PYDEVD_DISABLE_FILE_VALIDATION="1", MALLOC_ARENA_MAX="2")
        pending.kernel = Kernel(pending.folder, env, job.limits)
        pending.key = secrets.token_hex(16)
        config = {"key": pending.key, "package_dir": package_dir, "hashes": job.package.hashes, "modules": job.modules,
                  "bindings": job.bindings, "hidden": {h.id: h.function for h in job.hidden}}
        setup = (f"def _rl_setup():\n"
                 f"    space = {{'__name__': '_resilience_lab_grader_setup'}}\n"
                 f"    exec(compile({KERNEL_SIDE!r}, '<resilience-lab grader>', 'exec'), space)\n"
                 f"    return space['install']({config!r})\n"
                 f"_rl_setup()\n"
                 f"del _rl_setup\n")
        pending.setup_id = pending.kernel.send(setup)
    except Exception as error:  # a full disk, a missing interpreter: the row says so
        pending.error = f"could not start a kernel: {type(error).__name__}: {error}"
    return pending


def finish(pending: Pending) -> dict:
    """Run the submission's cells in its kernel and return its row."""
    job, kernel = pending.job, pending.kernel
    result = blank_result(job.index, job.student, job.file, job.exercise, job.checks, job.hidden)
    result["restored"] = list(job.restored)
    began = time.monotonic()
    try:
        if not pending.error and not _started(pending):
            # No student code has run yet: a kernel that failed to start (a machine
            # short of memory or processes for a moment) is the grader's problem; try once more.
            kernel.shutdown()
            shutil.rmtree(pending.folder, ignore_errors=True)
            pending = start(job)
            kernel = pending.kernel
        if pending.error:
            result.update(status="error", reason=pending.error)
        else:
            _run(job, pending, kernel, result)
    except Exception as error:  # never stop the batch
        result.update(status="error", reason=f"grader error: {type(error).__name__}: {error}")
    finally:
        if kernel is not None:
            kernel.shutdown()
        if pending.folder and kernel is not None and result["status"] != "error":
            changed = _changed_files(job.package, os.path.join(pending.folder, ".grader"))
            if changed:
                result.update(status="tampered", reason="the notebook changed the grader's copy of "
                              + ", ".join(changed[:3]) + ("..." if len(changed) > 3 else ""))
        if pending.folder:
            shutil.rmtree(pending.folder, ignore_errors=True)
    for entry in result["checks"].values():
        entry["points"] = entry["max"] if entry["passed"] else 0
        if not entry["reached"] and not entry["message"]:
            entry["message"] = f"not reached ({result['status']}: {result['reason']})"
    if result["status"] == "tampered":
        for entry in result["checks"].values():
            entry.update(points=0, passed=False)
    result["total"] = sum(e["points"] for e in result["checks"].values())
    result["seconds"] = round(time.monotonic() - began, 3)
    return result


def _wait_reply(kernel: Kernel, msg_id: str, timeout: float):
    import queue

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kernel.client.get_shell_msg(timeout=0.25)
        except queue.Empty:
            if not kernel.alive():
                return None
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]
    return None


def _started(pending: Pending) -> bool:
    """Wait for the kernel's set-up cell (once); keep its reply for :func:`_run`."""
    if pending.setup_reply is None:
        pending.setup_reply = _wait_reply(pending.kernel, pending.setup_id, pending.job.limits.startup_timeout)
    return pending.setup_reply is not None and pending.setup_reply.get("status") == "ok"


def _run(job: Job, pending: Pending, kernel: Kernel, result: dict) -> None:
    limits = job.limits
    if pending.setup_reply is None:
        _started(pending)
    reply = pending.setup_reply
    if reply is None or reply.get("status") != "ok":
        detail = (f"{reply.get('ename')}: {reply.get('evalue')}" if reply
                  else f"{kernel.exit_description()}: {kernel.log_tail()}" if not kernel.alive()
                  else f"no answer in {limits.startup_timeout:g} s")
        result.update(status="error", reason=f"the grading kernel did not start: {detail}")
        return
    deadline = time.monotonic() + limits.notebook_timeout
    checks = result["checks"]
    number = 0

    def execute(code, *, student):
        left = deadline - time.monotonic()
        if left <= 0:
            return None, "notebook"
        run = kernel.collect(kernel.send(code, silent_history=not student), min(limits.cell_timeout, left))
        return run, ("notebook" if run.ended == "timeout" and left < limits.cell_timeout else "cell")

    def stop(run, limit, where):
        if run is None or run.ended == "timeout":
            if limit == "notebook":
                return "timeout", f"the notebook ran longer than its limit of {limits.notebook_timeout:g} s ({where})"
            return "timeout", f"{where} ran longer than its limit of {limits.cell_timeout:g} s"
        if run.ended == "output":
            return "output", f"{where}: output passed the cap of {limits.output} bytes"
        if run.ended == "died":
            description = kernel.exit_description()
            if "SIGKILL" in description or any(o.get("ename") == "MemoryError" for o in run.outputs):
                return "memory", f"{where}: {description} (memory limit {limits.memory // 1024**2} MiB)"
            return "crashed", f"{where}: {description}"
        return None

    def run_check(check_id, kind, payload, where, hidden=False) -> bool:
        """One check through the guard's entry point; False if it ended the notebook."""
        nonce = secrets.token_hex(16)
        code = (f"__import__('sys').modules['_resilience_lab_grader'].run("
                f"{check_id!r}, {nonce!r}, {kind!r}, {payload!r})")
        run, limit = execute(code, student=False)
        ended = stop(run, limit, where)
        if ended:
            result["status"], result["reason"] = ended
            return False
        _record(checks[check_id], run, nonce, check_id, pending.key, hidden=hidden)
        return True

    for kind, source, check_id in job.cells:
        number += 1
        where = f"code cell {number}"
        if kind == "check":
            if not run_check(check_id, "cell", source, f"{where} (check {check_id})"):
                return
            continue
        run, limit = execute(source, student=True)
        ended = stop(run, limit, where)
        if ended:
            result["status"], result["reason"] = ended
            return
        if run.error:
            ename, evalue = run.error
            result["cell_errors"].append({"cell": number, "error": f"{ename}: {evalue}"[:500]})
            if ename == "MemoryError":
                result.update(status="memory", reason=f"{where} raised MemoryError "
                                                      f"(memory limit {limits.memory // 1024**2} MiB)")
                return
            if ename == "SystemExit":
                result.update(status="exited", reason=f"{where} called sys.exit() ({evalue})".replace(" ()", ""))
                return
    # The instructor's hidden checks, loaded only now that no student cell is left to run.
    paths = {}
    for check in job.hidden:
        if check.origin not in paths:
            paths[check.origin] = os.path.join(pending.folder, f".hidden-{secrets.token_hex(8)}.py")
            Path(paths[check.origin]).write_text(check.source, encoding="utf-8")
    for check in job.hidden:
        if not run_check(check.id, "hidden", paths[check.origin], f"instructor check {check.id}", hidden=True):
            return


def _signed(record, key: str) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("signature"), str):
        return False
    text = f"{record.get('check')}|{record.get('nonce')}|{record.get('passed')}".encode()
    return hmac.compare_digest(hmac.new(key.encode(), text, hashlib.sha256).hexdigest(), record["signature"])


def _record(entry: dict, run, nonce: str, check_id: str, key: str, hidden: bool = False) -> None:
    entry["reached"] = True
    records = [r for r in run.records if isinstance(r, dict) and r.get("nonce") == nonce
               and r.get("check") == check_id and _signed(r, key)]
    if len(records) != 1:
        entry["message"] = "the check did not report a result"
        if run.error:
            entry["message"] += f" (its cell raised {run.error[0]})"
        return
    record = records[0]
    entry["passed"] = record.get("passed") is True
    message = str(record.get("message") or "")
    if message.startswith(f"{check_id}: "):
        message = message[len(check_id) + 2:]
    entry["message"] = message[:300] if hidden else message
