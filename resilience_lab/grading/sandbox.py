"""The sandbox every grading process runs in: bubblewrap (``bwrap``).

A submission's kernel and its answer process (:mod:`.answers`) each run as
``bwrap ... python ...`` with:

- no network, and its own PID, IPC, UTS and cgroup namespaces
  (``--unshare-all``): it sees no other process, and when the grader kills the
  sandbox (or dies) everything the submission started dies with it
  (``--die-with-parent``; the PID namespace ends with its first process);
- a file system made of read-only bind mounts of what Python needs (``/usr``,
  the interpreter's prefixes, the site-packages, the pristine copy of this
  package and a few files of ``/etc``), a private ``/tmp`` and ``/dev``, and
  one writable folder: the submission's own grading folder, removed after it
  is graded. Nothing else of the machine is visible: no other submission, no
  ``solutions/``, no ``--extra-checks`` files, no ``--out`` folder, no home;
- no environment but what :func:`environment` gives (no variables of the
  instructor's shell).

Where ``bwrap`` is missing (macOS, a host that forbids user namespaces),
:func:`check` says so and the grader refuses to run unless it was asked to
grade without a sandbox (``--no-sandbox``).
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

#: Files of /etc a Python process may read (libraries, time zone, user names).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf", "fonts",
       "mime.types")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or does not work here; the message says what to do."""


@functools.lru_cache(maxsize=1)
def _probe() -> str:
    """'' if bwrap can start a process here, else why not."""
    path = shutil.which("bwrap")
    if path is None:
        return "bubblewrap (the `bwrap` command) is not installed"
    try:
        done = subprocess.run([path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start: {error}"
    if done.returncode != 0:
        return f"bwrap could not start a sandbox: {done.stderr.decode(errors='replace').strip()[:200]}"
    return ""


def available() -> bool:
    """True if submissions can be sandboxed on this machine."""
    return not _probe()


def check() -> None:
    """Raise :class:`SandboxUnavailable` unless submissions can be sandboxed here."""
    problem = _probe()
    if problem:
        raise SandboxUnavailable(
            f"{problem}. Each submission is graded in a bubblewrap sandbox so that it cannot read or change "
            "other submissions, the solutions or the grades. Install it (Debian/Ubuntu: "
            "`sudo apt-get install bubblewrap`), or pass --no-sandbox to grade without isolation "
            "(only for work you trust, such as your own notebook).")


def _python_roots() -> list[str]:
    """Folders the interpreter and its packages live in (read-only inside)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    roots.update(site.getsitepackages())
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    kept = []
    for root in sorted((os.path.realpath(r) for r in roots if r and os.path.isdir(r)), key=len):
        if root.startswith("/usr/") or root == "/usr":
            continue  # /usr is bound whole
        if not any(root == k or root.startswith(k + "/") for k in kept):
            kept.append(root)
    return kept


def command(argv: list[str], folder: str, read_only: list[str] = ()) -> list[str]:
    """``argv`` wrapped in bwrap, with ``folder`` its only writable place and its
    working directory, and ``read_only`` folders visible at their own paths."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/", name)
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for name in ETC:
        path = Path("/etc", name)
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in [*_python_roots(), *read_only]:
        args += ["--ro-bind", root, root]
    args += ["--bind", folder, folder, "--chdir", folder]
    return args + list(argv)


def environment(folder: str, python_path: str) -> dict[str, str]:
    """The whole environment of a grading process: nothing of the grader's own."""
    return {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": folder, "TMPDIR": folder, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": python_path, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(folder, ".matplotlib"),
        "IPYTHONDIR": os.path.join(folder, ".ipython"), "JUPYTER_CONFIG_DIR": os.path.join(folder, ".jupyter"),
        "JUPYTER_DATA_DIR": os.path.join(folder, ".jupyter-data"), "JUPYTER_RUNTIME_DIR": os.path.join(folder, ".rt"),
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        # Set on machines whose processor an older OpenBLAS mis-detects; numpy crashes without them.
        **{k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
    }
