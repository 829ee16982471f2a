"""Figures for timeouts and circuit breakers: state bands, the state diagram, comparisons.

- :func:`plot_state_diagram` draws a breaker's states and moves from its
  transition table (:data:`resilience_lab.patterns.circuit_breaker.TRANSITIONS`
  by default), so the picture cannot drift from the code.
- :class:`BreakerFigure` shows runs of the same world side by side in time, one
  colour per run: the caller's p99 latency, its pool occupancy, the calls it
  actually sent to the dependency (or its ``ok`` answers), and, at the bottom, one band per run shaded
  by the breaker's state (read from the run's events).
- :func:`plot_compare` is the same figure without the state band, for
  timeouts.

Figures are plain ``matplotlib.figure.Figure`` objects, shown where a lesson
returns them (see :mod:`resilience_lab.figures.run`).
"""

from __future__ import annotations

import numpy as np

from ..outcomes import Outcome
from .axes import fit_y, shade_faults
from .run import figure_png
from ..world.breaker_policy import breaker_states

STATE_COLOURS = {
    "closed": "#cfe8cf",
    "open": "#f4a6a6",
    "half_open": "#ffd27f",
    "forced_open": "#b05f5f",
    "disabled": "#d9d9d9",
}
RUN_COLOURS = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c"]

_LAYOUT = {
    "closed": (0.0, 0.0),
    "open": (2.4, 0.0),
    "half_open": (1.2, -1.3),
    "forced_open": (3.4, 1.7),
    "disabled": (-1.0, 1.7),
}
_MANUAL = {"force_open", "disable", "reset"}


def state_intervals(states, until):
    """``[(start, end, state), ...]`` from ``[(time, state), ...]`` (the run's breaker events)."""
    out = []
    for i, (time, state) in enumerate(states):
        end = states[i + 1][0] if i + 1 < len(states) else until
        if end > time:
            out.append((time, end, state))
    return out


def time_in_state(states, until, state, since=0.0):
    """Seconds the breaker spent in ``state`` during ``[since, until)``."""
    return sum(max(0.0, min(end, until) - max(start, since))
               for start, end, s in state_intervals(states, until) if s == state)


def plot_state_diagram(transitions=None, *, manual=True, size=(7.5, 4.6)):
    """The breaker's states as circles and its moves as arrows, from ``transitions``.

    ``transitions`` maps state -> {trigger: next state}. Automatic moves are solid
    and labelled; the manual ones (``force_open``, ``disable``, ``reset``) are
    dashed and grey, or left out with ``manual=False``.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch
    if transitions is None:
        from ..patterns.circuit_breaker import TRANSITIONS as transitions
    fig = Figure(figsize=size, dpi=80)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    states = [s for s in transitions if manual or any(
        t not in _MANUAL for t in transitions[s]) or s in ("closed", "open", "half_open")]
    states = [s for s in states if manual or s in ("closed", "open", "half_open")]
    spare = iter([(1.2, 2.6), (3.4, -1.3), (-1.0, -1.3)])
    pos = {s: _LAYOUT.get(s) or next(spare) for s in states}
    for state, (x, y) in pos.items():
        ax.add_patch(_circle(x, y, STATE_COLOURS.get(state, "#eeeeee")))
        ax.text(x, y, state.replace("_", "-").upper(), ha="center", va="center", fontsize=10 if len(state) < 9 else 8.5,
                weight="bold", zorder=3)
    edges = {}
    for source, moves in transitions.items():
        for trigger, target in moves.items():
            if source in pos and target in pos:
                edges.setdefault((source, target), []).append(trigger)
    for (source, target), triggers in edges.items():
        is_manual = all(t in _MANUAL for t in triggers)
        if is_manual and not manual:
            continue
        bend = 0.25 if (target, source) in edges else 0.0
        arrow = FancyArrowPatch(
            pos[source], pos[target], connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
            mutation_scale=11 if is_manual else 14, shrinkA=30, shrinkB=30, lw=0.8 if is_manual else 2,
            ls="--" if is_manual else "-", color="#c2c2c2" if is_manual else "#333333",
            zorder=0.5 if is_manual else 2,  # the manual moves stay in the background
        )
        ax.add_patch(arrow)
        if not is_manual:
            (x0, y0), (x1, y1) = pos[source], pos[target]
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            # Label on the side the arc bends to.
            nx, ny = (y1 - y0), -(x1 - x0)
            norm = max(1e-9, (nx**2 + ny**2) ** 0.5)
            off = 0.18 + bend * 0.9
            ax.text(mx + off * nx / norm * (1 if bend else 0.6), my + off * ny / norm * (1 if bend else 0.6),
                    "\n".join(triggers), ha="center", va="center", fontsize=9, color="#333333", zorder=3,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.9))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_aspect("equal")
    if manual:
        ax.text(min(xs) - 0.7, min(ys) - 0.5, "light, dashed: an operator's manual moves (force_open, disable, "
                "reset)", fontsize=8, color="#777777")
    return fig


def _circle(x, y, colour):
    from matplotlib.patches import Circle

    return Circle((x, y), 0.42, fc=colour, ec="#333333", lw=1.2, zorder=1)


class BreakerFigure:
    """Runs of one world compared over time; :meth:`update` redraws with new runs.

    Rows: ``service``'s p99 latency, its busy workers (share of its pool), the
    calls it sent on ``route`` per second (short-circuited calls are not sent),
    and, with ``band=True``, one strip per run shaded by the breaker's state.
    """

    def __init__(self, labels, *, route="A->B", band=True, bucket=0.5, title=None, size=(9, 7), dpi=80,
                 third="sent"):
        from matplotlib.figure import Figure
        if third not in ("sent", "ok"):
            raise ValueError(f"third must be 'sent' or 'ok', got {third!r}")
        self.third = third
        self.labels = list(labels)
        self.route = route
        self.caller, self.target = route.split("->")
        self.bucket = bucket
        self.band = band
        self.fig = Figure(figsize=size, dpi=dpi)
        rows = 4 if band else 3
        ratios = [3, 3, 3, 0.45 * len(self.labels)][:rows]
        axes = self.fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        self.fig.subplots_adjust(left=0.17, right=0.97, top=0.93 if title else 0.97, bottom=0.07, hspace=0.15)
        if title:
            self.fig.suptitle(title)
        self.ax_latency, self.ax_pool, self.ax_sent = axes[:3]
        self.ax_band = axes[3] if band else None
        self.lines = {}
        for i, label in enumerate(self.labels):
            c = RUN_COLOURS[i % len(RUN_COLOURS)]
            self.lines[label] = (
                self.ax_latency.plot([], [], color=c, lw=2, label=label)[0],
                self.ax_pool.plot([], [], color=c, lw=2)[0],
                self.ax_sent.plot([], [], color=c, lw=2, drawstyle="steps-post")[0],
            )
        self.ax_latency.set_ylabel(f"{self.caller} p99 (s)")
        self.ax_latency.set_yscale("log")
        self.ax_pool.set_ylabel(f"{self.caller} busy")
        self.ax_pool.set_ylim(0, 105)
        self.ax_pool.yaxis.set_major_formatter("{x:.0f}%")
        self.ax_sent.set_ylabel(f"sent to {self.target} / s" if third == "sent" else f"{self.caller} ok / s")
        for ax in axes[:3]:
            ax.grid(True, alpha=0.3)
        self.ax_latency.legend(loc="upper right", fontsize=8, ncols=len(self.labels))
        if band:
            self.ax_band.set_yticks(range(len(self.labels)), self.labels, fontsize=8)
            self.ax_band.set_ylim(-0.5, len(self.labels) - 0.5)
            self.ax_band.invert_yaxis()
            from matplotlib.patches import Patch

            handles = [Patch(color=c, label=s.replace("_", "-")) for s, c in STATE_COLOURS.items()
                       if s in ("closed", "open", "half_open")]
            self.ax_sent.legend(handles=handles, loc="upper right", ncols=3, fontsize=8,
                                title="breaker state (bottom band)", title_fontsize=8)
        axes[-1].set_xlabel("simulated time (s)")
        self._dynamic = []

    def update(self, results):
        """Show ``results`` (label -> RunResult, in the labels' order)."""
        for artist in self._dynamic:
            artist.remove()
        self._dynamic = []
        until = 0.0
        for row, label in enumerate(self.labels):
            result = results[label]
            until = max(until, result.until)
            latency, pool, sent = self.lines[label]
            s = result.summary(self.caller, self.bucket)
            latency.set_data(s.time + self.bucket / 2, np.where(s.p99 > 0, s.p99, np.nan))
            times, busy, _, capacity = result.pool(self.caller)
            with np.errstate(invalid="ignore", divide="ignore"):
                pool.set_data(times, np.where(capacity > 0, 100.0 * busy / capacity, 0.0))
            if self.third == "sent":
                edges, counts = sent_per_second(result, self.route, self.bucket)
            else:
                edges, counts = s.time, s.goodput
                edges = np.append(edges, edges[-1] + self.bucket)
            sent.set_data(edges, np.append(counts, counts[-1:] if len(counts) else []))
            if self.band:
                for start, end, state in state_intervals(breaker_states(result, self.route), result.until):
                    self._dynamic.append(self.ax_band.fill_between(
                        [start, end], row - 0.4, row + 0.4, color=STATE_COLOURS.get(state, "#eeeeee"), lw=0))
        first = results[self.labels[0]]
        self._dynamic += shade_faults((self.ax_latency, self.ax_pool, self.ax_sent), first.faults, first.until,
                                      label_ax=self.ax_latency)
        fit_y(self.ax_latency, log=True, decades=0)
        fit_y(self.ax_sent)
        self.ax_pool.set_xlim(0, until)
        return self.fig

    def png(self) -> bytes:
        return figure_png(self.fig)


def sent_per_second(result, route, bucket=0.5):
    """(bucket edges, calls per second) that ``route``'s caller actually sent (not short-circuited)."""
    caller, target = route.split("->")
    mask = result.calls_to(target, caller) & (result.outcome != Outcome.SHORT_CIRCUITED)
    n = max(1, int(np.ceil(result.until / bucket - 1e-9)))
    counts = np.bincount(np.minimum((result.start[mask] // bucket).astype(int), n - 1), minlength=n)
    return np.arange(n + 1) * bucket, counts / bucket


def plot_breaker_runs(results, *, route="A->B", band=True, title=None, bucket=0.5):
    """Runs (label -> RunResult) side by side in time; see :class:`BreakerFigure`."""
    return BreakerFigure(list(results), route=route, band=band, title=title, bucket=bucket).update(results)


def plot_compare(results, *, route="A->B", title=None, bucket=0.5, third="sent"):
    """Like :func:`plot_breaker_runs`, without the state band (for timeouts); ``third="ok"``
    shows the caller's ``ok`` answers per second instead of the calls it sent."""
    return BreakerFigure(list(results), route=route, band=False, title=title, bucket=bucket,
                         third=third).update(results)
