"""The fault-injection panel: sliders and buttons that re-run a world.

``FaultPanel(world, until=30, window=(10, 20), controls={...})`` shows the
world's run as a :class:`~resilience_lab.figures.run.RunFigure`, with one control per
knob you name:

- ``"latency"``: extra milliseconds on every call to the service;
- ``"errors"``: the probability that a call to the service fails;
- ``"outage"``: a button that takes the service down (calls fail);
- ``"workers"``: the size of each instance's worker pool;
- ``"kill"``: a button that kills instance 0 of the service;

and a ``load`` slider that sets the rate of the world's open-loop load. Injected
faults apply during ``window``; the world itself is never changed, each setting
runs a modified copy.

A change re-simulates and redraws on a background thread, so the kernel stays
free. Settings that arrive while a run is under way are not queued: when the run
ends, only the latest setting is run next (the latest setting wins).

:class:`Panel` is that machinery alone (controls, a figure, a status line, the
background runner); lessons whose knobs are not faults (a timeout's value, a
breaker's threshold, a jitter scheme) subclass it and say what one setting runs.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time

from .run import RunFigure
from ..world.world import PoissonLoad

KNOBS = ("latency", "errors", "outage", "workers", "kill")


class LatestWins:
    """Run ``work(settings)`` on a thread, dropping settings overtaken by newer ones.

    An exception from ``work`` is kept in ``error`` and does not stop the thread:
    the next setting submitted still runs.
    """

    def __init__(self, work):
        self._work = work
        self._lock = threading.Condition()
        self._pending = None
        self._busy = False
        self.runs = 0
        self.error = None  # the last exception ``work`` raised, if any

    def submit(self, settings) -> None:
        with self._lock:
            self._pending = settings
            if not self._busy:
                self._busy = True
                threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            with self._lock:
                settings, self._pending = self._pending, None
                if settings is None:
                    self._busy = False
                    self._lock.notify_all()
                    return
            try:
                self._work(settings)
            except Exception as error:  # the thread must live on: a later setting may well run
                self.error = error
            finally:
                self.runs += 1

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every submitted setting has run (for tests)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._busy, timeout)


def world_with(world, settings: dict, window):
    """A copy of ``world`` with the panel's ``settings`` applied during ``window``."""
    changed = copy.copy(world)
    changed.services = dict(world.services)
    changed.faults = list(world.faults)
    changed.loads = list(world.loads)
    start, end = window
    for (service, knob), value in settings.items():
        if service == "load":  # a rate of 0 is a world with no open-loop load
            changed.loads = [
                dataclasses.replace(l, rate=value) if isinstance(l, PoissonLoad) else l
                for l in changed.loads if not (isinstance(l, PoissonLoad) and value <= 0)
            ]
        elif knob == "workers":
            changed.services[service] = dataclasses.replace(changed.services[service], workers=int(value))
        elif knob == "latency" and value > 0:
            changed.inject_latency(service, value / 1000.0, start=start, end=end)
        elif knob == "errors" and value > 0:
            changed.inject_errors(service, value, start=start, end=end)
        elif knob == "outage" and value:
            changed.inject_outage(service, start=start, end=end)
        elif knob == "kill" and value:
            changed.kill_instance(service, 0, start=start, end=end)
    return changed


class Panel:
    """Controls, a figure and a status line, re-run on a background thread.

    The machinery every lesson's panel shares. A subclass builds its
    ``controls`` (a dict of ipywidgets, keyed by a name or a tuple of names) and
    its ``figure`` (an object with ``update(result)`` and ``png()``), calls
    ``super().__init__()``, and defines :meth:`simulate`. Each change of a
    control submits the current settings to a :class:`LatestWins` runner, which
    simulates, updates the figure's artists and shows the new PNG; the first
    drawing happens at once, so the panel never appears empty.
    """

    def __init__(self):
        import ipywidgets as widgets
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        self.result = None
        self._render_lock = threading.Lock()
        self.runner = LatestWins(self._render)
        controls = list(self.controls.values())
        for control in controls:
            control.observe(self._changed, names="value")
        # The controls wrap onto as many rows as the notebook's width needs.
        row = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap", grid_gap="4px 28px"))
        self.widget = widgets.VBox([row, self.status, self.image])
        self._render(self.settings())

    def simulate(self, settings):
        """Run what ``settings`` describe and return what ``figure.update`` takes."""
        raise NotImplementedError

    def describe(self, result, seconds: float) -> str:
        """The status line (HTML) under the controls after a redraw."""
        return f"simulated in {seconds * 1000:.0f} ms"

    def settings(self) -> dict:
        """The controls' current values, keyed like ``controls``."""
        return {key: control.value for key, control in self.controls.items()}

    def _changed(self, change):
        self.status.value = "<i>simulating…</i>"
        self.runner.submit(self.settings())

    def _render(self, settings):
        with self._render_lock:
            began = time.perf_counter()
            try:
                result = self.simulate(settings)
                self.figure.update(result)
                image = self.figure.png()
                status = self.describe(result, time.perf_counter() - began)
            except Exception as error:  # shown in the panel, which stays usable
                self.status.value = f"<b>Could not draw this setting:</b> {_one_line(error)}"
                return
            self.result = result
            self.image.value = image
            self.status.value = status

    @staticmethod
    def _name(key) -> str:
        return key if isinstance(key, str) else "_".join(key)

    #: Seconds :meth:`set` waits for the redraw.
    redraw_limit = 60.0

    def set(self, **values) -> None:
        """Set controls by name (a tuple key's parts joined by ``_``, as in
        ``panel.set(B_latency=480)``) and wait for the redraw (TimeoutError
        after ``redraw_limit`` seconds)."""
        by_name = {self._name(key): control for key, control in self.controls.items()}
        for name, value in values.items():
            if name not in by_name:
                raise ValueError(f"no control {name!r}; controls: {', '.join(by_name)}")
            by_name[name].value = value
        if not self.runner.wait(self.redraw_limit):
            raise TimeoutError(f"the panel did not finish drawing within {self.redraw_limit:g} s")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


#: Every slider's width, description included: room for a track a mouse can use.
SLIDER_WIDTH = "440px"


def slider(description, *, value, min, max, step=1, integer=True):
    """A slider as every panel draws it: acts on release, ``SLIDER_WIDTH`` wide, the
    description in full on its left. ``integer=False`` makes a float slider."""
    import ipywidgets as widgets

    kind = widgets.IntSlider if integer else widgets.FloatSlider
    return kind(value=value, min=min, max=max, step=step, description=description, continuous_update=False,
                style={"description_width": "initial"}, layout=widgets.Layout(width=SLIDER_WIDTH))


def _one_line(error: Exception) -> str:
    """``error`` as one short, HTML-escaped line: its type and the first line of its message."""
    import html

    text = str(error).strip().splitlines()
    return html.escape(f"{type(error).__name__}: {text[0]}" if text else type(error).__name__)[:300]


class FaultPanel(Panel):
    """Widgets that inject faults into ``world`` and show the run. See the module."""

    def __init__(self, world, *, until=30.0, window=(10.0, 20.0), controls=None,
                 load=True, services=None, title=None):
        controls = controls or {}
        for service, knobs in controls.items():
            if service not in world.services:
                known = ", ".join(world.services)
                raise ValueError(f"unknown service {service!r} in controls; known services: {known}")
            for knob in knobs:
                if knob not in KNOBS:
                    raise ValueError(f"unknown control {knob!r} for {service!r}; choose from {KNOBS}")
        self.world, self.until, self.window = world, until, window
        self.figure = RunFigure(services or list(world.services)[::-1], title=title)
        self.controls = {}
        for service, knobs in controls.items():
            for knob in knobs:
                self.controls[(service, knob)] = self._control(service, knob)
        rates = [l.rate for l in world.loads if isinstance(l, PoissonLoad)]
        if load and rates:
            self.controls[("load", "rate")] = slider("load (requests/s)", value=rates[0], min=0,
                                                     max=round(rates[0] * 3), step=5, integer=False)
        super().__init__()

    def _control(self, service, knob):
        import ipywidgets as widgets
        spec = self.world.services[service]
        if knob == "latency":
            return slider(f"{service} extra latency (ms)", value=0, min=0, max=1000, step=10)
        if knob == "errors":
            return slider(f"{service} error rate", value=0.0, min=0.0, max=1.0, step=0.05, integer=False)
        if knob == "workers":
            return slider(f"{service} workers", value=spec.workers, min=1, max=spec.workers * 3)
        label = f"{service} down" if knob == "outage" else f"kill {service} instance 0"
        return widgets.ToggleButton(value=False, description=label, button_style="danger", icon="bolt")

    def simulate(self, settings):
        return world_with(self.world, settings, self.window).run(self.until)

    def describe(self, result, seconds):
        return f"simulated {self.until:g} s in {seconds * 1000:.0f} ms"
