"""Graded checks: what an exercise's check cells call.

A check is a function decorated with :func:`graded`, which gives it a stable id,
its points and a hint. Calling it runs the check against the student's code and
prints one line a student can read::

    PASS  l1-max-throughput  2/2 points
    FAIL  l1-fill-time  0/2 points: time_to_fill(50, 150, 0.5) returned 0.5, expected 0.333
          hint: ...

On failure it raises :class:`CheckFailed` (an ``AssertionError``), so the cell
fails under ``pytest --nbval-lax`` and the grader sees it. Whatever goes wrong
inside the student's code (``NotImplementedError`` from an untouched stub, any
other exception) is a failed check with a message, never a crash of the check.

The check cells of an exercise carry the same id and points in their metadata
(``cell.metadata["resilience_lab"]``); ``tests/test_exercises.py`` checks they match
:data:`REGISTRY`.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from dataclasses import dataclass


class CheckFailed(AssertionError):
    """A graded check did not pass; the message says why.

    In a notebook it shows as one short line naming the check, not a traceback
    into this package and not the message again: the FAIL line and hint printed
    just above already say everything useful, once.
    """

    def _render_traceback_(self):  # IPython's hook for how an exception is shown
        check = str(self).split(":", 1)[0] if ":" in str(self) else "the check"
        return [f"CheckFailed: {check} did not pass (why: the FAIL line above)"]


class Points(int):
    """The points a passed check earned: an ``int`` that a notebook does not echo
    under the PASS line when the check is a cell's last expression."""

    def _ipython_display_(self):
        pass


@dataclass(frozen=True)
class Check:
    id: str
    points: int
    hint: str
    function: object  # what a check cell calls: prints PASS or FAIL, raises CheckFailed
    body: object = None  # the check itself: returns, or raises on a failure


#: Every graded check, by id.
REGISTRY: dict[str, Check] = {}

#: Every measurement (see :func:`measured`), by ``"module:name"``.
MEASURED: dict[str, object] = {}


def verdict(body, *args, **kwargs) -> tuple[bool, str]:
    """Run a check's body: ``(True, "")`` if it passed, else ``(False, why)``."""
    try:
        body(*args, **kwargs)
    except NotImplementedError:
        return False, "not implemented yet: replace the `raise NotImplementedError` line with your code"
    except AssertionError as failure:
        return False, str(failure) or "an assertion failed"
    except Exception as error:  # the student's code raised: report it, do not crash
        text = str(error)
        return False, f"your code raised {type(error).__name__}" + (f": {text}" if text else " (with no message)")
    return True, ""


def graded(check_id: str, *, points: int, hint: str):
    """Make a function a graded check worth ``points`` (see the module docstring)."""

    def decorate(function):
        if check_id in REGISTRY:
            raise ValueError(f"two graded checks share the id {check_id!r}")

        @functools.wraps(function)
        def run(*args, **kwargs):
            passed, problem = verdict(function, *args, **kwargs)
            if passed:
                print(f"PASS  {check_id}  {points}/{points} points")
                return Points(points)
            print(f"FAIL  {check_id}  0/{points} points: {problem}\n      hint: {hint}")
            raise CheckFailed(f"{check_id}: {problem}")

        run.check = REGISTRY[check_id] = Check(check_id, points, hint, run, function)
        return run

    return decorate


def measured(function):
    """Mark a function that runs a student's objects in a simulation and returns
    plain measurements (numbers, strings, lists, tuples, dicts).

    In a notebook it is an ordinary call. In the grader, where the student's
    objects are proxies of objects living in the submission's answer process,
    the call runs *there*, beside those objects, and only its measurements come
    back: the check that called it judges them in the grader's process.
    """
    key = f"{function.__module__}:{function.__qualname__}"

    @functools.wraps(function)
    def run(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            remote = getattr(value, "_rl_measure", None)
            if remote is not None:
                return remote(key, args, kwargs)
        return function(*args, **kwargs)

    MEASURED[key] = run
    return run


def is_number(value) -> bool:
    """A real number as Python counts them (``int``, ``float``, ``Fraction``, numpy's
    scalars...), but not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np_bool()))


def np_bool():
    numpy = sys.modules.get("numpy")
    return numpy.bool_ if numpy is not None else bool


def whole_number(what: str, value) -> int:
    """``value`` as an ``int`` if it is a whole number (an integer, or a float
    such as ``15.0`` with nothing after the point); else a failed check."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np_bool())):
        return int(value)
    if is_number(value) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    raise CheckFailed(f"{what} returned {value!r}, expected a whole number")


def expect_close(what: str, got, expected: float, *, rel: float = 1e-9, abs: float = 0.0) -> None:
    """Fail with a readable message unless ``got`` is a number close to ``expected``."""
    if not is_number(got):
        raise CheckFailed(f"{what} returned {got!r}, expected a number close to {expected:.4g}")
    got = float(got)
    if math.isinf(expected) or math.isinf(got):
        if got != expected:
            raise CheckFailed(f"{what} returned {got:.4g}, expected {expected:.4g}")
        return
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=abs):
        raise CheckFailed(f"{what} returned {got:.4g}, expected {expected:.4g}")


def load_all() -> None:
    """Import every lesson's checks (``checks/lessonNN.py``) so that
    :data:`REGISTRY` is complete."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("lesson"):
            importlib.import_module(f"{__name__}.{module.name}")
