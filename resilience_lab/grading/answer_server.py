"""The answer process: a submission's graded definitions, serving the grader.

The grader starts this file as a script (``python -P answer_server.py``), in the
submission's sandbox, with two pipes (their file descriptors are its last two arguments): requests
come in on the first, answers go out on the second, each a JSON document after its length (4 bytes, big-endian).
It imports nothing of the grader's. It runs only what :mod:`.definitions`
selected from the notebook (the graded definitions and the helpers they use),
never the notebook's other code, and then answers the grader's requests:

- ``call``, ``method``, ``getattr``, ``bool``: call the student's function or
  class, call a method of one of its objects, read an attribute;
- ``measure``: run one of the package's functions marked
  :func:`resilience_lab.checks.measured` (a simulation the student's objects
  take part in) and return its measurements.

Values travel as plain JSON (numbers, strings, lists, tuples, dicts, the
package's :class:`~resilience_lab.outcomes.Outcome`, members of a student's
own ``Enum``); anything else stays here and travels as a numbered reference.
Nothing the grader trusts is computed here except the measurements of
``measure`` requests: a verdict is always decided in the grader's process.

Before each ``measure``, the package's modules, classes and functions are put
back as they were before the student's definitions ran, and its caches emptied. While the student's
code is driven through the data channel, any use of the package's reference
implementations (:mod:`resilience_lab.patterns`, the world's policies) is noted
and reported to the grader, which flags it in the grades.
"""

import builtins
import enum
import json
import os
import struct
import sys
import types

IN, OUT = -1, -1  # the pipes' file descriptors, from the command line
REFERENCE_PACKAGES = ("resilience_lab.patterns", "resilience_lab.world.policies", "resilience_lab.world.breaker_policy",
                      "resilience_lab.world.bulkhead_policy", "resilience_lab.world.retry_policy",
                      "resilience_lab.world.deadline_policy", "resilience_lab.world.fallback_policy")


def _read_exactly(count):
    chunks = []
    while count:
        chunk = os.read(IN, min(count, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _receive():
    (size,) = struct.unpack(">I", _read_exactly(4))
    return json.loads(_read_exactly(size))


def _send(message):
    data = json.dumps(message, separators=(",", ":")).encode()
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(OUT, data):]


class Server:
    def __init__(self):
        self.objects = {}
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.measured = {}
        self.snapshot = []
        self.reference_used = {}
        self.watching = False
        from resilience_lab.outcomes import Outcome

        self.Outcome = Outcome

    # ------------------------------------------------------------ values
    def ref(self, value):
        key = len(self.objects) + 1
        self.objects[key] = value
        kind = ("class" if isinstance(value, type) else "generator" if isinstance(value, types.GeneratorType)
                else "callable" if callable(value) else "object")
        try:
            text = repr(value)[:120]
        except Exception:
            text = f"<{type(value).__name__} object>"
        return {"$r": key, "k": kind, "n": getattr(value, "__qualname__", type(value).__qualname__)[:80], "p": text}

    def encode(self, value, depth=0):
        if value is None or isinstance(value, (bool, str)):
            return str(value) if isinstance(value, str) and type(value) is not str else value
        if depth > 30:
            return self.ref(value)
        if isinstance(value, enum.Enum):
            if isinstance(value, self.Outcome):
                return {"$o": value.name}
            return {"$e": [type(value).__name__, value.name, self.encode(value.value, depth + 1)]}
        if isinstance(value, int):
            return int(value) if -10**4000 < value < 10**4000 else self.ref(value)
        if isinstance(value, float):
            return float(value)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(value, numpy.generic):
                return self.encode(value.item(), depth + 1)
            if isinstance(value, numpy.ndarray) and value.size <= 200_000:
                return {"$l": [self.encode(v, depth + 1) for v in value.tolist()]}
        if type(value) in (list, tuple, set, frozenset) and len(value) <= 200_000:
            tag = {list: "$l", tuple: "$t", set: "$s", frozenset: "$s"}[type(value)]
            return {tag: [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict and len(value) <= 200_000:
            return {"$d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        return self.ref(value)

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        (tag, inner), = value.items()
        if tag == "$r":
            return self.objects[inner]
        if tag == "$o":
            return self.Outcome[inner]
        if tag == "$l":
            return [self.decode(v) for v in inner]
        if tag == "$t":
            return tuple(self.decode(v) for v in inner)
        if tag == "$a":
            import numpy

            return numpy.array([self.decode(v) for v in inner])
        if tag == "$s":
            return {self.decode(v) for v in inner}
        if tag == "$d":
            return {self.decode(k): self.decode(v) for k, v in inner}
        raise ValueError(f"unknown value tag {tag!r}")

    # ------------------------------------------------------------ the package, kept honest
    def take_snapshot(self):
        for name, module in sorted(sys.modules.items()):
            if not (name == "resilience_lab" or name.startswith("resilience_lab.")) or module is None:
                continue
            self.snapshot.append(("module", name, module, dict(vars(module))))
            for value in list(vars(module).values()):
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    self.snapshot.append(("class", value, {k: v for k, v in vars(value).items()
                                                          if k not in ("__dict__", "__weakref__")}))
                    continue
                if callable(getattr(value, "cache_clear", None)):  # a cache a student's code may have filled
                    self.snapshot.append(("cache", value))
                seen = 0
                while value is not None and seen < 5:  # a decorated function, and the one it wraps
                    if isinstance(value, types.FunctionType) and value.__module__ == name:
                        self.snapshot.append(("function", value, value.__code__, value.__defaults__,
                                              value.__kwdefaults__))
                    value, seen = getattr(value, "__wrapped__", None), seen + 1
        self.snapshot.append(("builtins", dict(vars(builtins))))
        self.snapshot.append(("import", list(sys.meta_path), list(sys.path_hooks), list(sys.path)))

    def restore(self):
        for entry in self.snapshot:
            kind = entry[0]
            if kind == "module":
                _, name, module, saved = entry
                sys.modules[name] = module
                space = vars(module)
                for key in [k for k in space if k not in saved]:
                    del space[key]
                space.update(saved)
            elif kind == "class":
                _, cls, saved = entry
                for key, value in saved.items():
                    if vars(cls).get(key, None) is not value:
                        try:
                            setattr(cls, key, value)
                        except (AttributeError, TypeError):
                            pass
            elif kind == "function":
                _, function, code, defaults, kwdefaults = entry
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
            elif kind == "cache":
                entry[1].cache_clear()
            elif kind == "builtins":
                space = vars(builtins)
                for key in [k for k in space if k not in entry[1]]:
                    del space[key]
                space.update(entry[1])
            else:
                sys.meta_path[:], sys.path_hooks[:], sys.path[:] = entry[1], entry[2], entry[3]
                sys.path_importer_cache.clear()

    def watch_references(self):
        """Note every call of a reference implementation made while ``watching``."""
        import importlib

        for package in REFERENCE_PACKAGES:
            names = [package]
            module = importlib.import_module(package)
            if hasattr(module, "__path__"):
                import pkgutil

                names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]
            for name in names:
                module = importlib.import_module(name)
                for attr, value in list(vars(module).items()):
                    if isinstance(value, type) and value.__module__ == name:
                        for key, method in list(vars(value).items()):
                            if isinstance(method, types.FunctionType):
                                setattr(value, key, self._noting(method, f"{name}.{value.__qualname__}"))
                    elif isinstance(value, types.FunctionType) and value.__module__ == name and not attr.startswith("_"):
                        setattr(module, attr, self._noting(value, f"{name}.{attr}"))

    def _noting(self, function, what):
        server = self

        def noted(*args, **kwargs):
            if server.watching:
                server.reference_used[what] = server.reference_used.get(what, 0) + 1
            return function(*args, **kwargs)

        noted.__wrapped__ = function
        for attr in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(noted, attr, getattr(function, attr))
        return noted

    # ------------------------------------------------------------ requests
    def load(self, program, modules):
        import importlib

        for name in modules:
            importlib.import_module(name)
        if modules:
            checks = sys.modules.get("resilience_lab.checks")
            self.measured = dict(getattr(checks, "MEASURED", {}))
        self.watch_references()
        self.take_snapshot()
        errors, marks = [], {}
        self.watching = True
        try:
            for item in program:
                if "mark" in item:
                    marks[item["mark"]] = {name: self.encode(self.namespace[name]) if name in self.namespace else None
                                           for name in item["names"]}
                    continue
                source = "\n" * (item["first_line"] - 1) + item["source"]
                try:
                    exec(compile(source, f"<cell {item['cell']}>", "exec"), self.namespace)
                except BaseException as error:  # noqa: B036 - SystemExit from a student's cell too
                    errors.append([item["cell"], _describe(error)])
        finally:
            self.watching = False
        origins = {}
        for name, value in self.namespace.items():
            if name.startswith("__"):
                continue
            modules_seen = [getattr(value, "__module__", None)]
            if isinstance(value, type):
                modules_seen += [getattr(base, "__module__", None) for base in value.__mro__[1:]]
            package = [m for m in modules_seen if isinstance(m, str) and m.startswith("resilience_lab.")]
            if package:
                origins[name] = package[0]
        return {"errors": errors, "marks": marks, "origins": origins}

    def handle(self, request):
        op = request["op"]
        if op == "load":
            return self.load(request["program"], request["modules"])
        if op == "references":
            return {"$d": [[k, v] for k, v in sorted(self.reference_used.items())]}
        args = self.decode(request.get("args", []))
        kwargs = {k: self.decode(v) for k, v in request.get("kwargs", {}).items()}
        if op == "measure":
            function = self.measured.get(request["key"])
            if function is None:
                raise LookupError(f"{request['key']} is not a measurement")
            self.restore()
            return self.encode(function.__wrapped__(*args, **kwargs))
        target = self.objects[request["target"]]
        self.watching = True
        try:
            if op == "call":
                return self.encode(target(*args, **kwargs))
            if op == "method":
                return self.encode(getattr(target, request["name"])(*args, **kwargs))
            if op == "getattr":
                return self.encode(getattr(target, request["name"]))
            if op == "bool":
                return bool(target)
            if op == "signature":
                import inspect

                try:
                    parameters = inspect.signature(target).parameters.values()
                except (TypeError, ValueError):
                    return None
                return {"$l": [[p.name, int(p.kind), p.default is not p.empty] for p in parameters]}
        finally:
            self.watching = False
        raise ValueError(f"unknown request {op!r}")


def _describe(error):
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _error(error):
    kind = type(error)
    return {"error": {"type": kind.__name__[:80], "message": str(error)[:2000],
                      "builtin": kind.__module__ == "builtins" and getattr(builtins, kind.__name__, None) is kind}}


def main():
    global IN, OUT
    from resilience_lab import _limits

    _limits.apply(*(int(a) for a in sys.argv[1:4]))
    IN, OUT = int(sys.argv[4]), int(sys.argv[5])
    sys.stdout = sys.stderr = open(os.devnull, "w")  # a student's prints go nowhere
    sys.stdin = open(os.devnull)
    server = Server()
    while True:
        try:
            request = _receive()
        except EOFError:
            return
        try:
            reply = {"ok": server.handle(request)}
        except BaseException as error:  # noqa: B036 - the student's SystemExit is an answer, not our exit
            reply = _error(error)
        try:
            _send(reply)
        except (TypeError, ValueError) as error:  # a value json cannot write (a float subclass gone odd)
            _send(_error(error))


if __name__ == "__main__":
    main()
