"""Lesson 8's figures and panel: the month's error budget, burning down, and the order of the patterns.

:class:`MonthFigure` draws a :class:`~resilience_lab.lessons.capstone.Month` in two
panels over the 30 days:

1. the budget left (100% at the start; below 0 the SLO is missed), with each
   incident shaded (at least :data:`MIN_WIDTH` minutes wide, to be seen on a
   month) and the release freeze shaded from the minute the budget ran out;
2. the burn rate over the last hour (log scale, from :data:`BURN_FLOOR`), the page
   thresholds (14.4x and 6x) dashed, and a red mark along the bottom for each page
   (from the minute it fired to the minute it stopped, at least two hours wide).

:func:`plot_orders` draws :func:`~resilience_lab.lessons.capstone.compare_orders`
as pairs of bars. :class:`CapstonePanel` redraws the burn-down when you change
which incidents happen, how long they last, or which protection is on.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..figures.axes import FAULT_COLOUR, fit_y
from ..figures.panel import Panel, slider
from ..figures.run import COLOURS, figure_png
from ..patterns import Backoff, Bulkhead, CircuitBreaker, Deadline, Fallback, Retry, Timeout
from ..world import CLIENT
from . import capstone as lesson
from . import error_budget as eb

DAY = eb.MINUTES_PER_DAY
FREEZE_COLOUR = "#9ecae1"
#: The burn rate is drawn from this floor, so that a quiet hour shows on a log scale.
BURN_FLOOR = 0.1
#: An incident is shaded at least this many minutes wide, so that a short one can be seen.
MIN_WIDTH = 180


class MonthFigure:
    """The burn-down and the burn rate of a month; :meth:`update` replaces the data."""

    def __init__(self, size=(9, 5.2), dpi=80):
        from matplotlib.figure import Figure
        self.fig = Figure(figsize=size, dpi=dpi)
        self.fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.1, hspace=0.15)
        self.ax_left, self.ax_burn = self.fig.subplots(2, 1, sharex=True)
        self.days = np.arange(lesson.MINUTES) / DAY
        (self.left,) = self.ax_left.plot([], [], color=COLOURS[0], lw=2, label="budget left")
        self.ax_left.axhline(0, color="black", lw=1)
        (self.burn,) = self.ax_burn.plot([], [], color=COLOURS[1], lw=1, label="burn rate over 1 h")
        for alert, style in zip(eb.PAGES, ("--", ":")):
            self.ax_burn.axhline(alert.burn, color="black", lw=1, ls=style,
                                 label=f"page: {alert.burn:g}x over {alert.long // 60} h and {alert.short} min")
        self.ax_left.set_ylabel("error budget left (%)")
        self.ax_burn.set_ylabel("burn rate (x)")
        self.ax_burn.set_xlabel("day of the month   (orange: incidents, at least 3 h wide; blue: the release freeze)")
        for ax in (self.ax_left, self.ax_burn):
            ax.grid(True, alpha=0.3)
            ax.set_xlim(0, lesson.DAYS)
        self.ax_burn.legend(fontsize=7, loc="upper right", framealpha=0.8)
        self.artists = []

    def update(self, month):
        for artist in self.artists:
            artist.remove()
        self.artists = []
        self.left.set_data(self.days, 100 * month.left)
        burn = eb.burn_rates(month.bad, lesson.SLO, 60)
        self.burn.set_data(self.days, np.maximum(burn, BURN_FLOOR))
        for incident in month.incidents:
            end = max(incident.end, incident.start + MIN_WIDTH)
            for ax in (self.ax_left, self.ax_burn):
                self.artists.append(ax.axvspan(incident.start / DAY, end / DAY, color=FAULT_COLOUR, alpha=0.45, lw=0))
        if month.freeze is not None:
            self.artists.append(self.ax_left.axvspan(month.freeze / DAY, lesson.DAYS, color=FREEZE_COLOUR,
                                                     alpha=0.35, lw=0))
            self.artists.append(self.ax_left.text(month.freeze / DAY, 0.9, " release freeze", fontsize=8,
                                                  transform=self.ax_left.get_xaxis_transform(), color="#08519c"))
        fires = np.zeros(lesson.MINUTES, dtype=bool)
        for alert in eb.PAGES:
            fires |= month.fires[alert.name]
        for start, end in eb.alert_spans(fires):
            self.artists.append(self.ax_burn.axvspan(start / DAY, max(end, start + 120) / DAY, ymin=0, ymax=0.08,
                                                     color="#b30000", lw=0))
        fit_y(self.ax_left, floor=0.0)
        fit_y(self.ax_burn, log=True)
        pages = len(eb.alert_spans(fires))
        verdict = "SLO met" if month.slo_met else "SLO missed"
        self.fig.suptitle(f"{verdict}: {month.good:.3%} good pages, {month.spent:.0%} of the budget spent, "
                          f"{pages} page{'s' if pages != 1 else ''} (red marks)", fontsize=10)
        return self.fig

    def png(self) -> bytes:
        return figure_png(self.fig)


def plot_month(month):
    """A month's burn-down and burn rate (see :class:`MonthFigure`)."""
    return MonthFigure().update(month)


def plot_orders(rows):
    """Each question of :func:`~resilience_lab.lessons.capstone.compare_orders`: the right and the wrong order."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(10, 3.0), dpi=80, layout="constrained")
    axes = fig.subplots(1, len(rows))
    for ax, row in zip(np.atleast_1d(axes), rows):
        ax.bar([0, 1], [row["right"], row["wrong"]], color=[COLOURS[2], COLOURS[1]])
        ax.set_xticks([0, 1], ["right\norder", "wrong\norder"], fontsize=8)
        ax.set_title(row["question"].replace(", or ", ",\nor "), fontsize=8)
        ax.set_ylabel(row["measured"], fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
        fit_y(ax)
        top = max(row["right"], row["wrong"])
        ax.set_ylim(0, top * 1.25 if top > 0 else 1)
    return fig


# -- the panel -------------------------------------------------------------------------------
#: The protection switches. Each is a sensible setting of one pattern, not a
#: tuned plan: the panel's retries have no budget, and it adds no workers.
SWITCHES = ("fallbacks", "timeouts", "retries", "breakers", "bulkheads", "deadline")


def switch_plan(on) -> lesson.Plan:
    """A plan from the panel's switches (``on``: the names of :data:`SWITCHES` switched on),
    in the order of lesson 8: Fallback, Bulkhead, Retry, CircuitBreaker, Timeout."""
    on = set(on)
    plan = lesson.Plan()
    for target in (*lesson.OPTIONAL, "catalog", "pricing"):
        optional = target in lesson.OPTIONAL
        chain = []
        if optional and "fallbacks" in on:
            chain.append(Fallback())
        if "bulkheads" in on:
            chain.append(Bulkhead(20))
        if not optional and "retries" in on:
            chain.append(Retry(3, Backoff("full", 0.01, 0.1)))
        if "breakers" in on:
            chain.append(CircuitBreaker(failure_rate=0.5, window=5.0, minimum_calls=10, open_for=2.0))
        if "timeouts" in on:
            chain.append(Timeout(0.25 if optional else 0.3))
        if chain:
            plan.protect("frontend", target, *chain)
    if "deadline" in on:
        plan.protect(CLIENT, "frontend", Deadline(lesson.GOOD_WITHIN))
    return plan


def stretched(incidents, factor: float, services):
    """``incidents`` on ``services`` only, each lasting ``factor`` times as long
    (starts kept; one that would overlap the next is cut short, none runs past the month)."""
    kept = [i for i in incidents if i.service in services]
    out = []
    for n, incident in enumerate(kept):
        limit = kept[n + 1].start if n + 1 < len(kept) else lesson.MINUTES
        minutes = max(1, min(round(incident.minutes * factor), limit - incident.start))
        out.append(dataclasses.replace(incident, minutes=minutes))
    return out


class CapstonePanel(Panel):
    """The example month: switch incidents (by service) and protections on and off,
    stretch the incidents, and watch the budget burn down."""

    def __init__(self, seed=lesson.EXAMPLE_SEED):
        import ipywidgets as widgets
        self.incidents = lesson.chaos_month(seed)
        auto = widgets.Layout(width="auto")
        self.controls = {
            "length": slider("incidents last (x)", value=1.0, min=0.5, max=3.0, step=0.5, integer=False),
            **{f"incidents on {name}": widgets.ToggleButton(value=True, description=name, icon="bolt",
                                                            button_style="warning", layout=auto,
                                                            tooltip=f"incidents on {name}: on or off")
               for name in sorted({i.service for i in self.incidents})},
            **{name: widgets.ToggleButton(value=False, description=name, icon="shield", layout=auto,
                                          tooltip=f"{name}: on or off") for name in SWITCHES},
        }
        self.figure = MonthFigure()
        super().__init__()

    def simulate(self, settings):
        services = {key.removeprefix("incidents on ") for key, on in settings.items()
                    if key.startswith("incidents on ") and on}
        plan = switch_plan(name for name in SWITCHES if settings[name])
        return lesson.month(plan, stretched(self.incidents, settings["length"], services))

    def describe(self, month, seconds):
        load, where = month.calls_per_page
        over = f" <b>over the {lesson.COSTS['calls per page']:g} allowed</b>" if not month.within_costs() else ""
        return (f"Incidents (orange buttons: on) and protections (shields). {len(month.incidents)} incidents, "
                f"{len(month.frozen)} releases frozen; the busiest service got {load:.2f} calls per page ({where})"
                f"{over}; simulated in {seconds * 1000:.0f} ms")


def panel() -> CapstonePanel:
    """The lesson's panel (see :class:`CapstonePanel`)."""
    return CapstonePanel()
