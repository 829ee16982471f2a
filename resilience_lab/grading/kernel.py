"""One grading kernel: a fresh IPython kernel in its own process group, with limits.

The kernel is launched directly (not through a kernelspec) by a few lines of
Python that first set ``resource`` limits on the kernel process: its address
space (``RLIMIT_AS``, so a memory bomb gets ``MemoryError`` or dies instead of
starving the machine), CPU seconds (a backstop behind the wall-clock limits),
the size of any file it writes (its own log included), and no core dumps.
``JPY_PARENT_PID`` makes the kernel exit if the grader dies.

Launching returns at once, and the first cell (the grader's set-up) can be sent
straight away: the kernel runs it as soon as it is up. That lets a worker start
the next submission's kernel while it grades the current one.

:meth:`Kernel.send` sends one cell; :meth:`Kernel.collect` waits for it and
returns a :class:`CellRun`: its outputs, whether it raised, the grader's
verdict messages, and whether it ended the kernel's life (time limit, output
cap, or the kernel died).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from .kernel_side import MIME as _MIME

# Sets the limits, then becomes the kernel (argv: memory bytes, cpu seconds, file bytes, connection file).
LAUNCHER = """\
import resource, sys
memory, cpu, fsize, connection = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if memory > 0:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
if cpu > 0:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
if fsize > 0:
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
sys.argv = ["ipykernel_launcher", "-f", connection, "--HistoryManager.enabled=False", "--IPKernelApp.quiet=False"]
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


@dataclass
class Limits:
    """Per-submission limits (seconds, bytes)."""

    cell_timeout: float = 60.0
    notebook_timeout: float = 300.0
    memory: int = 2 * 1024**3
    output: int = 1024**2
    file_size: int = 64 * 1024**2
    startup_timeout: float = 60.0

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout", "memory", "output", "file_size", "startup_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, not {value!r}")


@dataclass
class CellRun:
    outputs: list = field(default_factory=list)
    error: tuple | None = None  # (ename, evalue)
    records: list = field(default_factory=list)  # grader messages (display data of MIME)
    ended: str | None = None  # "timeout", "output", "died"
    seconds: float = 0.0


class Kernel:
    def __init__(self, workdir, env, limits: Limits, python=sys.executable):
        self.limits = limits
        self.connection_file = os.path.join(workdir, ".kernel.json")
        # Unix sockets in the grading folder: no TCP ports to race for between kernels.
        write_connection_file(self.connection_file, transport="ipc", ip=os.path.join(workdir, ".k"))
        cpu = int(limits.notebook_timeout + limits.startup_timeout + 30)
        self.log = open(os.path.join(workdir, ".kernel.log"), "wb")
        self.process = subprocess.Popen(
            [python, "-c", LAUNCHER, str(limits.memory), str(cpu), str(limits.file_size), self.connection_file],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.client = BlockingKernelClient(connection_file=self.connection_file)
        self.client.load_connection_file()
        self.client.start_channels()
        self.output_used = 0

    def log_tail(self, size: int = 300) -> str:
        """The end of what the kernel printed (why it did not start)."""
        try:
            self.log.flush()
            with open(self.log.name, "rb") as handle:
                return handle.read()[-size:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_description(self) -> str:
        code = self.process.poll()
        if code is None:
            return "the kernel is still running"
        if code < 0:
            try:
                return f"the kernel was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"the kernel was killed by signal {-code}"
        return f"the kernel exited with code {code}"

    def send(self, code: str, *, silent_history: bool = True) -> str:
        return self.client.execute(code, store_history=not silent_history, allow_stdin=False, stop_on_error=False)

    def collect(self, msg_id: str, timeout: float, *, count_output: bool = True) -> CellRun:
        """Wait for the cell ``msg_id`` to finish, at most ``timeout`` seconds."""
        run = CellRun()
        start = time.monotonic()
        deadline = start + timeout
        idle = replied = False
        while not (idle and replied):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                run.ended = "timeout"
                break
            if not idle:
                try:
                    msg = self.client.get_iopub_msg(timeout=min(0.25, remaining))
                except queue.Empty:
                    if not self.alive():
                        run.ended = "died"
                        break
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if msg["parent_header"].get("msg_id") != msg_id:
                    # Output of an earlier cell's background thread still counts against the cap.
                    if count_output and kind in ("stream", "display_data"):
                        self.output_used += len(str(content.get("text", ""))) + len(str(content.get("data", "")))
                        if self.output_used > self.limits.output:
                            run.ended = "output"
                            break
                    continue
                if kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "stream":
                    self._add(run, {"output_type": "stream", "name": content["name"], "text": content["text"]},
                              len(content["text"]), count_output)
                elif kind in ("display_data", "execute_result", "update_display_data"):
                    data = content.get("data", {})
                    if set(data) == {_MIME}:
                        run.records.append(data[_MIME])
                        continue
                    size = sum(len(str(v)) for v in data.values())
                    self._add(run, {"output_type": kind, "data": data}, size, count_output)
                elif kind == "error":
                    run.error = (content.get("ename", ""), content.get("evalue", ""))
                    self._add(run, {"output_type": "error", "ename": content.get("ename", ""),
                                    "evalue": content.get("evalue", "")},
                              len(content.get("evalue", "")), count_output)
                if run.ended:
                    break
            else:
                try:
                    msg = self.client.get_shell_msg(timeout=min(0.25, remaining))
                except queue.Empty:
                    if not self.alive():
                        run.ended = "died"
                        break
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    replied = True
                    content = msg["content"]
                    if content.get("status") == "error" and run.error is None:
                        run.error = (content.get("ename", ""), content.get("evalue", ""))
        run.seconds = time.monotonic() - start
        return run

    def _add(self, run, output, size, count):
        if count:
            self.output_used += size
            if self.output_used > self.limits.output:
                run.ended = "output"
                return
        if len(run.outputs) < 200:
            run.outputs.append(output)

    def shutdown(self):
        try:
            self.client.stop_channels()
        except Exception:
            pass
        try:  # the kernel and anything it started (its own session)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.alive():
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

