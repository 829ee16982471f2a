"""One grading kernel: a fresh IPython kernel in its own process group, with limits.

The kernel is launched directly (not through a kernelspec) by a few lines of
Python that first set ``resource`` limits on the kernel process: its address
space (``RLIMIT_AS``, so a memory bomb gets ``MemoryError`` or dies instead of
starving the machine), CPU seconds (a backstop behind the wall-clock limits),
the size of any file it writes (its own log included), and no core dumps.
It runs inside the submission's sandbox (:mod:`.sandbox`), whose processes
all die with it; unsandboxed, ``JPY_PARENT_PID`` makes the kernel exit if the
grader dies.

Launching returns at once, so a worker can start the next submission's kernel
while it grades the current one. :meth:`Kernel.wait_ready` then waits until the
kernel answers a ``kernel_info`` request *and* an IOPub message has arrived, as
``jupyter_client`` does: a cell sent before the IOPub subscription is live
would lose its ``idle`` message (ZeroMQ's "slow joiner").

:meth:`Kernel.send` sends one cell; :meth:`Kernel.collect` waits for it and
returns a :class:`CellRun`: whether it raised, and whether it ended the
kernel's life (time limit, output cap, or the kernel died). Once the cell's
shell reply is in, IOPub gets :data:`IDLE_GRACE` seconds to deliver ``idle``;
a cell never waits for an ``idle`` that will not come. No message larger than
the output cap (plus a margin) is accepted from the kernel at all
(``ZMQ_MAXMSGSIZE``): one oversized message disconnects the kernel and the
cell ends with the status ``output``, so a notebook cannot swell the grader's
memory through what it sends.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from zmq.utils.monitor import recv_monitor_message

#: Seconds IOPub gets to deliver a cell's ``idle`` after its shell reply came.
IDLE_GRACE = 2.0
#: Bytes a kernel message may have beyond the output cap.
MESSAGE_MARGIN = 256 * 1024

# Sets the limits, then becomes the kernel (argv: memory bytes, cpu seconds, file bytes, connection file).
LAUNCHER = """\
import sys
from resilience_lab import _limits
_limits.apply(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
connection = sys.argv[4]
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
    error: tuple | None = None  # (ename, evalue), each at most 500 characters
    ended: str | None = None  # "timeout", "output", "died"
    seconds: float = 0.0


class Kernel:
    def __init__(self, workdir, env, limits: Limits, python=sys.executable, wrap=None):
        """Launch the kernel in ``workdir``; ``wrap(argv)`` puts it in a sandbox."""
        self.limits = limits
        self.connection_file = os.path.join(workdir, ".kernel.json")
        # Unix sockets in the grading folder: no TCP ports to race for between kernels.
        write_connection_file(self.connection_file, transport="ipc", ip=os.path.join(workdir, ".k"))
        cpu = int(limits.notebook_timeout + limits.startup_timeout + 30)
        argv = [python, "-c", LAUNCHER, str(limits.memory), str(cpu), str(limits.file_size), self.connection_file]
        self.log = open(os.path.join(workdir, ".kernel.log"), "wb")
        self.process = subprocess.Popen(
            wrap(argv) if wrap else argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, limits.output + MESSAGE_MARGIN)
        self.client = BlockingKernelClient(connection_file=self.connection_file, context=self.context)
        self.client.load_connection_file()
        self.client.start_channels(hb=False)
        self.monitor = self.client.iopub_channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
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
        if code > 128 and code - 128 in signal.valid_signals():  # bwrap reports its child's signal so
            return f"the kernel was killed by {signal.Signals(code - 128).name}"
        return f"the kernel exited with code {code}"

    def wait_ready(self, timeout: float) -> str:
        """Wait until the kernel answers on shell and IOPub; '' when it does, else why not."""
        deadline = time.monotonic() + timeout
        replied = False
        while time.monotonic() < deadline:
            if not self.alive():
                return f"{self.exit_description()}: {self.log_tail()}"
            if not replied:
                self.client.kernel_info()
                try:
                    msg = self.client.get_shell_msg(timeout=1)
                except queue.Empty:
                    continue
                replied = msg["msg_type"] == "kernel_info_reply"
                continue
            try:  # IOPub is live once anything arrives on it (kernel_info makes it send a status)
                self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                replied = False  # ask again: the status of that request went out before we listened
                continue
            while True:  # flush what start-up sent
                try:
                    self.client.get_iopub_msg(timeout=0.1)
                except queue.Empty:
                    self._disconnected()
                    return ""
        return f"no answer in {timeout:g} s"

    def send(self, code: str, *, silent_history: bool = True) -> str:
        return self.client.execute(code, store_history=not silent_history, allow_stdin=False, stop_on_error=False)

    def _disconnected(self) -> bool:
        """True if ZeroMQ dropped the kernel for an oversized message since the last look."""
        dropped = False
        while self.monitor.poll(0):
            event = recv_monitor_message(self.monitor)
            dropped = dropped or event["event"] == zmq.EVENT_DISCONNECTED
        return dropped

    def _dropped_or_died(self) -> str:
        """After a disconnection: "died" if the kernel is exiting, else "output" (an oversized message)."""
        try:
            self.process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return "output"
        return "died"

    def collect(self, msg_id: str, timeout: float) -> CellRun:
        """Wait for the cell ``msg_id`` to finish, at most ``timeout`` seconds."""
        run = CellRun()
        start = time.monotonic()
        deadline = start + timeout
        idle = False
        replied_at = None
        while not idle:
            now = time.monotonic()
            if now >= deadline:
                run.ended = "timeout"
                break
            if replied_at is not None and now - replied_at > IDLE_GRACE:
                break  # the reply came; an idle lost on the way must not cost the cell its time limit
            if replied_at is None:
                try:
                    msg = self.client.get_shell_msg(timeout=0)
                except queue.Empty:
                    pass
                else:
                    if msg["parent_header"].get("msg_id") == msg_id:
                        replied_at = time.monotonic()
                        content = msg["content"]
                        if content.get("status") == "error" and run.error is None:
                            run.error = (str(content.get("ename", ""))[:500], str(content.get("evalue", ""))[:500])
            try:
                msg = self.client.get_iopub_msg(timeout=min(0.05, max(deadline - now, 0.001)))
            except queue.Empty:
                if not self.alive():
                    run.ended = "died"
                    break
                if self._disconnected():
                    run.ended = self._dropped_or_died()
                    break
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "display_data", "execute_result", "update_display_data", "error"):
                self.output_used += len(str(content.get("text", ""))) + len(str(content.get("data", ""))) + \
                    len(str(content.get("evalue", "")))
                if self.output_used > self.limits.output:
                    run.ended = "output"
                    break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue  # an earlier cell's background thread: counted against the cap above
            if kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "error":
                run.error = (str(content.get("ename", ""))[:500], str(content.get("evalue", ""))[:500])
        if run.ended is None and self._disconnected():
            run.ended = self._dropped_or_died()
        run.seconds = time.monotonic() - start
        return run

    def shutdown(self):
        try:
            self.monitor.close(linger=0)
            self.client.stop_channels()
        except Exception:
            pass
        try:  # the kernel and anything it started (its own session; its sandbox's namespace)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.alive():
                self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()
        try:
            self.context.destroy(linger=0)
        except Exception:
            pass
