"""The grader's code inside the grading kernel.

The grader never imports this module in the kernel: it sends this file's text
(read once, before any submission runs) as the first cell of every kernel,
before the student's first cell, and calls :func:`install` with the
configuration of that submission. :func:`install`

1. checks that ``resilience_lab`` is imported from the submission's private,
   pristine copy of the package, and that its files hash as the grader expects;
2. imports the exercise's check modules and takes a *snapshot*: every module
   in ``sys.modules`` that the checking code relies on (the package's own modules
   in full; for the others their functions, classes and submodules), the
   state of the package's functions (code, defaults, closures) and classes,
   the whole ``builtins`` namespace, and the import machinery
   (``sys.meta_path``, ``sys.path_hooks``);
3. keeps one entry point, ``sys.modules["_resilience_lab_grader"].run``.

Each graded check cell then runs as ``run(check_id, nonce, kind, payload)``:
the snapshot is put back (undoing whatever the student's cells rebound or
patched: check functions, the checks module, ``AssertionError``, ``math``,
``sys.modules`` entries, import hooks), the released check source is executed
in a copy of the student's namespace where the check module names are bound to
the pristine modules, and every plain function of the student is wrapped so that
the snapshot is put back again each time it returns (a student function cannot
patch the comparison it is being judged by). The verdict goes to the grader as a
display message of type :data:`MIME` carrying the nonce the grader put in that
cell, signed (HMAC) with a key the grader gave this guard before any student cell
ran; the grader counts a check as passed only from such a message.

Limits of the model: the kernel is the student's process. This stops tampering
through names (rebinding, monkeypatching, replacing modules, reloading edited
files); it is not a security boundary against code written to attack the grader
itself (walking ``gc`` or frames to the snapshot, patching IPython's execution
machinery, threads that patch while a check runs). Package files edited on disk
are caught by the grader after the run (status ``tampered``).
"""

MIME = "application/vnd.resilience-lab.check+json"


def install(config):
    import builtins
    import functools
    import hashlib
    import hmac
    import importlib
    import linecache
    import os
    import sys
    import types

    from IPython import get_ipython
    from IPython.display import publish_display_data

    # 1. The package must come from the private copy, unchanged.
    import resilience_lab

    root = os.path.realpath(config["package_dir"])
    origin = os.path.realpath(os.path.dirname(resilience_lab.__file__))
    if origin != os.path.join(root, "resilience_lab"):
        raise RuntimeError(f"resilience_lab imported from {origin}, not from the grading copy in {root}")
    for relative, digest in config["hashes"].items():
        with open(os.path.join(root, relative), "rb") as handle:
            if hashlib.sha256(handle.read()).hexdigest() != digest:
                raise RuntimeError(f"the grading copy of {relative} changed before the notebook ran")

    for name in config["modules"]:
        importlib.import_module(name)

    # 2. The snapshot.
    own = ("resilience_lab",)
    skip = ("IPython", "ipykernel", "zmq", "tornado", "asyncio", "jupyter_client", "jupyter_core",
            "traitlets", "comm", "debugpy", "_pydevd", "pydevd", "prompt_toolkit", "pygments", "jedi",
            "parso", "_resilience_lab_grader", "__main__", "concurrent", "selectors", "threading")

    def is_own(name):
        return name in own or name.startswith(tuple(p + "." for p in own))

    key = config.pop("key").encode()
    # This cell's source holds the key: drop it from the caches IPython keeps of cell code.
    for cache in (linecache.cache, getattr(linecache, "_ipython_cache", {})):
        for name in [n for n, entry in list(cache.items())
                     if isinstance(entry, tuple) and len(entry) > 2 and "_rl_setup" in "".join(entry[2] or ())]:
            cache.pop(name, None)

    relevant = {"builtins", "sys", "math", "functools", "importlib", "types", "operator", "hmac", "hashlib"}
    for name, module in list(sys.modules.items()):
        if is_own(name) and isinstance(module, types.ModuleType):
            relevant.add(name)
            for value in vars(module).values():
                target = value if isinstance(value, types.ModuleType) else None
                modname = target.__name__ if target else getattr(value, "__module__", None)
                if isinstance(modname, str):
                    parts = modname.split(".")
                    relevant.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    modules = {}
    for name in sorted(relevant):
        module = sys.modules.get(name)
        if not isinstance(module, types.ModuleType) or name.startswith(skip):
            continue
        space = vars(module)
        if is_own(name) or name == "builtins":
            entries = dict(space)
        else:
            entries = {k: v for k, v in space.items()
                       if isinstance(v, (types.ModuleType, type)) or callable(v)}
        modules[name] = (module, entries)

    functions, classes = {}, {}

    def remember(value, depth=0):
        if depth > 3:
            return
        if isinstance(value, types.FunctionType):
            if id(value) in functions:
                return
            cells = tuple(c.cell_contents if _full(c) else _EMPTY for c in (value.__closure__ or ()))
            functions[id(value)] = (value, value.__code__, value.__defaults__, value.__kwdefaults__, cells,
                                    dict(value.__dict__))
            for cell in cells:
                if cell is not _EMPTY:
                    remember(cell, depth + 1)
        wrapped = getattr(value, "__wrapped__", None) if not isinstance(value, type) else None
        if wrapped is not None and callable(wrapped):
            remember(wrapped, depth + 1)
        if isinstance(value, type) and is_own(getattr(value, "__module__", "") or "") and id(value) not in classes:
            attrs = {k: v for k, v in vars(value).items() if k not in ("__dict__", "__weakref__", "__doc__")}
            classes[id(value)] = (value, attrs)
            for attr in attrs.values():
                remember(getattr(attr, "__func__", attr), depth + 1)

    for name, (module, entries) in modules.items():
        if is_own(name):
            for value in entries.values():
                remember(value)

    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    shell = get_ipython()
    _exec, _compile, _isinstance, _BaseException = exec, compile, isinstance, BaseException
    _str, _type, _len, _dict, _list = str, type, len, dict, list

    def restore():
        for name, (module, entries) in modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
            space = vars(module)
            for key, value in entries.items():
                if space.get(key, _EMPTY) is not value:
                    space[key] = value
        for function, code, defaults, kwdefaults, cells, attrs in functions.values():
            if function.__code__ is not code:
                function.__code__ = code
            if function.__defaults__ is not defaults:
                function.__defaults__ = defaults
            if function.__kwdefaults__ is not kwdefaults:
                function.__kwdefaults__ = kwdefaults
            for cell, content in zip(function.__closure__ or (), cells):
                if content is not _EMPTY and (not _full(cell) or cell.cell_contents is not content):
                    cell.cell_contents = content
            if function.__dict__ != attrs:
                function.__dict__.clear()
                function.__dict__.update(attrs)
        for cls, attrs in classes.values():
            space = vars(cls)
            for key, value in attrs.items():
                if space.get(key, _EMPTY) is not value:
                    try:
                        setattr(cls, key, value)
                    except (AttributeError, TypeError):
                        pass
        if sys.meta_path != meta_path:
            sys.meta_path[:] = meta_path
        if sys.path_hooks != path_hooks:
            sys.path_hooks[:] = path_hooks
            sys.path_importer_cache.clear()

    def guarded(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            finally:
                restore()

        return call

    def namespace(bindings):
        space = {}
        for key, value in shell.user_ns.items():
            if _isinstance(value, types.FunctionType) and not is_own(getattr(value, "__module__", "") or ""):
                value = guarded(value)
            space[key] = value
        for alias, (module_name, attribute) in bindings.items():
            value = modules[module_name][0] if module_name in modules else sys.modules[module_name]
            space[alias] = getattr(value, attribute) if attribute else value
        space["__builtins__"] = builtins
        return space

    _hmac_new, _sha256 = hmac.new, hashlib.sha256

    def report(check_id, nonce, passed, message):
        # Signed with the key only the grader and this guard know: a stand-in for
        # run() that prints its own verdicts earns nothing.
        signature = _hmac_new(key, f"{check_id}|{nonce}|{passed}".encode(), _sha256).hexdigest()
        publish_display_data({MIME: {"check": check_id, "nonce": nonce, "passed": passed,
                                     "message": message[:2000], "signature": signature}})

    def failure(error):
        text = _str(error)
        if _isinstance(error, AssertionError):
            return text or "an assertion failed"
        return f"{_type(error).__name__}: {text}" if text else _type(error).__name__

    def run(check_id, nonce, kind, payload):
        """Run one check; ``kind`` is "cell" (payload: released source) or
        "hidden" (payload: path of an instructor check module, read then deleted)."""
        restore()
        try:
            if kind == "cell":
                _exec(_compile(payload, f"<check {check_id}>", "exec"), namespace(config["bindings"]))
            else:
                module = _load_hidden(payload)
                function = module.__dict__[config["hidden"][check_id]]
                function(namespace(config["bindings"]))
        except _BaseException as error:  # SystemExit, KeyboardInterrupt from student code too
            restore()
            report(check_id, nonce, False, failure(error))
        else:
            restore()
            report(check_id, nonce, True, "")

    hidden_modules = {}

    def _load_hidden(path):
        if path in hidden_modules:
            return hidden_modules[path]
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        os.remove(path)
        module = types.ModuleType("_resilience_lab_hidden_checks")
        module.__file__ = "<instructor checks>"
        _exec(_compile(source, "<instructor checks>", "exec"), module.__dict__)
        del source
        hidden_modules[path] = module
        return module

    grader = types.ModuleType("_resilience_lab_grader")
    grader.run = run
    sys.modules["_resilience_lab_grader"] = grader
    return len(modules), len(functions), len(classes)


class _Empty:
    pass


_EMPTY = _Empty()


def _full(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
