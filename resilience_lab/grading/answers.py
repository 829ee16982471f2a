"""The grader's side of the answer process: the student's objects as proxies.

:class:`Answers` starts :mod:`.answer_server` in the submission's sandbox with
the statements :mod:`.definitions` selected, and speaks to it over two pipes.
The graded checks then run **in the grader's process**: a check receives, in
place of the student's function or class, a proxy (:class:`Remote`, or a class
made by :class:`RemoteClass`) whose calls travel to the answer process as JSON
and come back as plain values. The reference, the comparison and the verdict
never leave the grader, so whatever the student's code does, it can only change
the answers it gives.

Every request has a deadline (the check's time limit): past it the process is
killed and the check fails. A reply larger than :data:`MAX_MESSAGE` bytes is
refused the same way, so a submission cannot swell the grader's memory. An
exception in the student's code comes back as an exception of the same name
(the built-in one, if it is built in, so ``NotImplementedError`` stays itself);
never as a ``BaseException`` that could stop the grader.
"""

from __future__ import annotations

import builtins
import enum
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

from ..outcomes import Outcome

SERVER = Path(__file__).with_name("answer_server.py")
#: The largest reply accepted from an answer process (bytes).
MAX_MESSAGE = 8 * 1024**2


class AnswerError(AssertionError):
    """The answer process could not answer: it took too long, died, or said too much.
    (An ``AssertionError``, so a check reports its message as the reason it failed.)"""


class StudentError(Exception):
    """Base of the exceptions raised by a student's code that are not built in."""


_classes: dict[str, type] = {}


def _exception(info) -> Exception:
    name, message = str(info.get("type", "Exception")), str(info.get("message", ""))
    if name == "CheckFailed":  # a measurement that found the answer wrong (or code that says so: it fails too)
        from ..checks import CheckFailed

        return CheckFailed(message)
    kind = getattr(builtins, name, None) if info.get("builtin") else None
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        if name not in _classes:
            _classes[name] = type(name if name.isidentifier() else "StudentError", (StudentError,), {})
        kind = _classes[name]
    try:
        return kind(message)
    except Exception:  # an exception class with required arguments (UnicodeDecodeError)
        return StudentError(f"{name}: {message}")


class Answers:
    """One submission's answer process."""

    def __init__(self, argv: list[str], env: dict, folder: str):
        self.argv, self.env, self.folder = argv, env, folder
        self.process: subprocess.Popen | None = None
        self.deadline = float("inf")
        self.loaded = None
        self._buffer = b""

    # ------------------------------------------------------------ the process
    def start(self) -> None:
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        log = open(os.path.join(self.folder, ".answers.log"), "ab")
        try:  # the child learns its two pipe ends from its last two arguments
            self.process = subprocess.Popen([*self.argv, str(to_child), str(from_child)], cwd=self.folder,
                                            env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            pass_fds=(to_child, from_child), start_new_session=True)
        finally:
            log.close()
            os.close(to_child)
            os.close(from_child)
        self.loaded = None
        self._buffer = b""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None

    # ------------------------------------------------------------ the channel
    def _write(self, data: bytes) -> None:
        if len(data) <= 16384:  # the pipe is empty between requests: a small write never blocks
            os.write(self._out, data)
            return
        while data:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            _, ready, _ = select.select([], [self._out], [], min(left, 1.0))
            if ready:
                data = data[os.write(self._out, data[:1 << 16]):]
            elif not self.alive():
                raise BrokenPipeError

    def _read(self, count: int) -> bytes:
        chunks, have = [], 0
        if self._buffer:
            chunks.append(self._buffer)
            have = len(self._buffer)
        while have < count:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self._in], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self._in, max(count - have, 1 << 16))
            if not chunk:
                raise BrokenPipeError
            chunks.append(chunk)
            have += len(chunk)
        data = b"".join(chunks)
        self._buffer = data[count:]
        return data[:count]

    def request(self, op: str, raw: bool = False, **fields):
        """Send one request; its decoded answer (as sent, when ``raw``), or the
        student's exception raised here."""
        if not self.alive():
            raise AnswerError("your code's process is gone (it ended or was stopped earlier)")
        data = json.dumps({"op": op, **fields}, separators=(",", ":")).encode()
        try:
            self._write(struct.pack(">I", len(data)) + data)
            (size,) = struct.unpack(">I", self._read(4))
            if size > MAX_MESSAGE:
                self.kill()
                raise AnswerError(f"your code answered with {size:,} bytes, more than the grader accepts "
                                  f"({MAX_MESSAGE:,})")
            reply = json.loads(self._read(size))
        except TimeoutError:
            self.kill()
            raise AnswerError("your code ran past the check's time limit") from None
        except (BrokenPipeError, OSError, ValueError, struct.error):
            code = self.process.poll() if self.process else None
            self.kill()
            detail = f" (exit code {code})" if code not in (None, 0) and code > 0 else (
                f" (killed by {signal.Signals(-code).name})" if code and code < 0 and -code in signal.valid_signals()
                else "")
            raise AnswerError(f"your code's process ended while answering{detail}") from None
        if not isinstance(reply, dict) or not ("ok" in reply or "error" in reply):
            self.kill()
            raise AnswerError("your code's process sent something that is not an answer")
        if "error" in reply:
            raise _exception(reply["error"] if isinstance(reply["error"], dict) else {})
        return reply["ok"] if raw else self.decode(reply["ok"])

    # ------------------------------------------------------------ loading
    def load(self, program: list, modules: list, timeout: float) -> dict:
        """Start the process (again, if it died) and run the selected statements."""
        if self.alive() and self.loaded is not None:
            return self.loaded
        if not self.alive():
            self.start()
        self.deadline = time.monotonic() + timeout
        try:
            loaded = self.request("load", raw=True, program=program, modules=modules)
            marks = {str(key): {str(name): None if value is None else self.decode(value)
                                for name, value in names.items()} for key, names in loaded["marks"].items()}
            self.loaded = {"errors": [[int(c), str(t)[:500]] for c, t in loaded["errors"]], "marks": marks,
                           "origins": {str(k): str(v) for k, v in loaded["origins"].items()}}
        except AnswerError as error:
            self.loaded = {"failed": str(error).replace("your code ran past the check's time limit",
                                                        f"running your definitions took longer than {timeout:g} s")}
        except Exception as error:
            self.loaded = {"failed": f"running your definitions failed: {type(error).__name__}: {error}"}
        return self.loaded

    # ------------------------------------------------------------ values
    def encode(self, value, depth=0):
        if value is None or isinstance(value, (bool, str, int, float)) and not isinstance(value, enum.Enum):
            return value
        if isinstance(value, Outcome):
            return {"$o": value.name}
        if isinstance(value, (Remote, RemoteClass)):
            if object.__getattribute__(value, "_answers") is not self:
                raise TypeError("a value of another submission cannot be sent here")
            return {"$r": object.__getattribute__(value, "_ref")}
        if depth > 30:
            raise TypeError("value nested too deeply to send to the student's code")
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(value, numpy.generic):
            return self.encode(value.item(), depth + 1)
        if numpy is not None and isinstance(value, numpy.ndarray):
            return {"$a": [self.encode(v, depth + 1) for v in value.tolist()]}
        if isinstance(value, (list, tuple, set, frozenset)):
            tag = "$t" if isinstance(value, tuple) else "$s" if isinstance(value, (set, frozenset)) else "$l"
            return {tag: [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"$d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        raise TypeError(f"the grader cannot send {type(value).__name__} values to the student's code")

    def decode(self, value):
        if not isinstance(value, (dict, list)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if len(value) != 1 and "$r" not in value:
            raise ValueError("malformed value")
        tag = "$r" if "$r" in value else next(iter(value))
        inner = value[tag]
        if tag == "$r":
            if value.get("k") == "class":
                return RemoteClass.make(self, int(inner), str(value.get("n", "StudentClass")), str(value.get("p", "")))
            return Remote(self, int(inner), str(value.get("p", "")), value.get("k") in ("callable", "generator"))
        if tag == "$o":
            return Outcome[inner]
        if tag == "$e":
            name, member, raw = inner
            return _enum_member(str(name), str(member), self.decode(raw))
        if tag in ("$l", "$t", "$s"):
            items = [self.decode(v) for v in inner]
            return items if tag == "$l" else tuple(items) if tag == "$t" else set(items)
        if tag == "$d":
            return {self.decode(k): self.decode(v) for k, v in inner}
        raise ValueError(f"unknown value tag {tag!r}")

    def arguments(self, args, kwargs):
        return {"args": [self.encode(a) for a in args],
                "kwargs": {str(k): self.encode(v) for k, v in kwargs.items()}}

    def measure(self, key: str, args, kwargs):
        """Run the measurement ``key`` in the answer process; its plain result."""
        return self.request("measure", key=key, **self.arguments(args, kwargs))


def _enum_member(name, member, value):
    try:
        cls = enum.Enum(name if name.isidentifier() else "StudentEnum", [(member, value)])
    except (TypeError, ValueError):
        return value
    return cls[member]


class Remote:
    """A student's object that stays in the answer process."""

    __slots__ = ("_answers", "_ref", "_repr", "_callable", "_methods")

    def __init__(self, answers: Answers, ref: int, text: str, is_callable: bool):
        object.__setattr__(self, "_answers", answers)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_repr", text)
        object.__setattr__(self, "_callable", is_callable)
        object.__setattr__(self, "_methods", {})

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        methods = object.__getattribute__(self, "_methods")
        if name in methods:
            return methods[name]
        answers = object.__getattribute__(self, "_answers")
        value = answers.request("getattr", target=object.__getattribute__(self, "_ref"), name=name)
        if isinstance(value, Remote) and object.__getattribute__(value, "_callable"):
            methods[name] = value = _Method(answers, object.__getattribute__(self, "_ref"), name)
        return value

    def __setattr__(self, name, value):
        raise AttributeError("the grader does not change a student's objects")

    def __call__(self, *args, **kwargs):
        answers = object.__getattribute__(self, "_answers")
        return answers.request("call", target=object.__getattribute__(self, "_ref"), **answers.arguments(args, kwargs))

    def __bool__(self):
        return bool(object.__getattribute__(self, "_answers").request(
            "bool", target=object.__getattribute__(self, "_ref")))

    def __repr__(self):
        return object.__getattribute__(self, "_repr")

    @property
    def __signature__(self):
        if not object.__getattribute__(self, "_callable"):
            raise ValueError("not callable")
        return _signature(object.__getattribute__(self, "_answers"), object.__getattribute__(self, "_ref"))

    def __deepcopy__(self, memo):  # a world copying its policies: one student object per run is enough
        return self

    def __copy__(self):
        return self

    def _rl_measure(self, key, args, kwargs):
        return object.__getattribute__(self, "_answers").measure(key, args, kwargs)


class _Method:
    """A bound method of a :class:`Remote`: one request per call."""

    __slots__ = ("answers", "ref", "name")

    def __init__(self, answers, ref, name):
        self.answers, self.ref, self.name = answers, ref, name

    def __call__(self, *args, **kwargs):
        return self.answers.request("method", target=self.ref, name=self.name,
                                    **self.answers.arguments(args, kwargs))

    def __repr__(self):
        return f"<method {self.name}>"

    @property
    def __signature__(self):
        """The student's own signature (``inspect.signature`` works on a proxy)."""
        target = self.answers.request("getattr", target=self.ref, name=self.name)
        return _signature(self.answers, object.__getattribute__(target, "_ref")) if isinstance(target, Remote) \
            else None


def _signature(answers, ref):
    import inspect

    found = answers.request("signature", target=ref)
    if found is None:
        raise ValueError("no signature")
    return inspect.Signature([inspect.Parameter(str(name), inspect._ParameterKind(int(kind)),
                                                default=None if has_default else inspect.Parameter.empty)
                              for name, kind, has_default in found])


class RemoteClass(type):
    """The metaclass of a student's class seen from the grader: a real class (so
    ``isinstance(x, type)`` holds) whose instances are made in the answer process."""

    @classmethod
    def make(mcs, answers, ref, name, text):
        cls = mcs(name if name.isidentifier() else "StudentClass", (), {})
        type.__setattr__(cls, "_answers", answers)
        type.__setattr__(cls, "_ref", ref)
        type.__setattr__(cls, "_text", text)
        return cls

    def __call__(cls, *args, **kwargs):
        answers = type.__getattribute__(cls, "_answers")
        return answers.request("call", target=type.__getattribute__(cls, "_ref"), **answers.arguments(args, kwargs))

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return type.__getattribute__(cls, "_answers").request(
            "getattr", target=type.__getattribute__(cls, "_ref"), name=name)

    def __repr__(cls):
        return type.__getattribute__(cls, "_text")

    def __deepcopy__(cls, memo):
        return cls

    def _rl_measure(cls, key, args, kwargs):
        return type.__getattribute__(cls, "_answers").measure(key, args, kwargs)
