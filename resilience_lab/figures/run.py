"""Figures of a run, in one line from a lesson: ``plot_run(result)``.

:class:`RunFigure` builds its figure and lines once and :meth:`RunFigure.update`
only moves their data, so a widget can redraw after every slider change
without paying to rebuild the figure. The figure is a plain
``matplotlib.figure.Figure`` (not a pyplot one): it is shown where the lesson
returns it, and nowhere else.

The three panels, over simulated time, one line per service:

1. latency: p99 (solid) and p50 (dotted) of the calls that ended in each bucket
   (a log scale when they span two decades or more);
2. answers per second: ``ok`` (solid) and not ``ok`` (dashed);
3. pool occupancy: busy workers as a share of the pool.

Every fault window is shaded in all three panels, labelled in the first. Every
update refits the y-axes to the data (:func:`~resilience_lab.figures.axes.fit_y`).
"""

from __future__ import annotations

import io
import sys

import numpy as np

from .axes import FAULT_COLOUR, fit_y, shade_faults

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


class RunFigure:
    """A three-panel figure for ``services`` whose data :meth:`update` replaces."""

    def __init__(self, services, *, bucket=0.5, title=None, size=(9, 6.6), dpi=80):
        from matplotlib.figure import Figure
        self.services = list(services)
        self.bucket = bucket
        # A fixed layout: constrained layout would cost more than the redraw itself.
        self.fig = Figure(figsize=size, dpi=dpi)
        self.fig.subplots_adjust(left=0.09, right=0.87, top=0.93 if title else 0.97, bottom=0.08, hspace=0.12)
        axes = self.fig.subplots(3, 1, sharex=True)
        self.ax_latency, self.ax_rate, self.ax_pool = axes
        self.title = title
        if title:
            self.fig.suptitle(title)
        self.lines = {}
        for i, name in enumerate(self.services):
            c = COLOURS[i % len(COLOURS)]
            self.lines[name] = {
                "p99": self.ax_latency.plot([], [], color=c, lw=2, label=f"{name} p99")[0],
                "p50": self.ax_latency.plot([], [], color=c, lw=1, ls=":", label=f"{name} p50")[0],
                "ok": self.ax_rate.plot([], [], color=c, lw=2, label=f"{name} ok")[0],
                "bad": self.ax_rate.plot([], [], color=c, lw=1.5, ls="--", label=f"{name} failed")[0],
                "busy": self.ax_pool.plot([], [], color=c, lw=2, label=name)[0],
            }
        self.ax_latency.set_ylabel("latency (s)\n— p99   ··· p50")
        self.ax_rate.set_ylabel("answers / s\n— ok   - - failed")
        self.ax_pool.set_ylabel("workers busy")
        self.ax_pool.set_xlabel("simulated time (s)")
        self.ax_pool.set_ylim(0, 105)
        self.ax_pool.yaxis.set_major_formatter("{x:.0f}%")
        for ax in axes:
            ax.grid(True, alpha=0.3)
        # One legend for the figure (a legend per panel would double the redraw time).
        handles = [self.lines[name]["p99"] for name in self.services]
        self.fig.legend(handles, self.services, loc="center right", fontsize=9, frameon=False)
        self._shading = []

    def update(self, result):
        """Show ``result``: new line data, new fault shading, rescaled axes."""
        for name in self.services:
            s = result.summary(name, self.bucket)
            mid = s.time + self.bucket / 2
            lines = self.lines[name]
            lines["p99"].set_data(mid, s.p99)
            lines["p50"].set_data(mid, s.p50)
            lines["ok"].set_data(mid, s.goodput)
            lines["bad"].set_data(mid, s.throughput - s.goodput)
            times, busy, _, capacity = result.pool(name)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(capacity > 0, 100.0 * busy / capacity, 100.0 * (busy > 0))
            lines["busy"].set_data(times, share)
        for artist in self._shading:
            artist.remove()
        self._shading = shade_faults((self.ax_latency, self.ax_rate, self.ax_pool), result.faults, result.until,
                                     label_ax=self.ax_latency)
        fit_y(self.ax_latency, log=True)
        fit_y(self.ax_rate)
        self.ax_pool.set_xlim(0, result.until)
        return self.fig

    def png(self) -> bytes:
        """The figure as PNG bytes (what the widgets show)."""
        return figure_png(self.fig)


def plot_run(result, services=None, *, title=None, bucket=0.5):
    """One run as a three-panel figure (latency, answers, pools), faults shaded."""
    services = result.services if services is None else services
    return RunFigure(services, title=title, bucket=bucket).update(result)


def plot_pools(result, services=None):
    """Busy workers and queued calls per service, as counts, over time."""
    from matplotlib.figure import Figure
    services = result.services if services is None else services
    fig = Figure(figsize=(8.5, 2.2 * len(services)), dpi=80, layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(services), 1, sharex=True))
    for ax, name in zip(axes, services):
        times, busy, queued, capacity = result.pool(name)
        ax.plot(times, busy, label="busy workers", lw=2)
        ax.plot(times, capacity, label="pool size", color="black", lw=1, ls="--")
        ax.plot(times, queued, label="queued calls", lw=1.5, color="#d62728")
        shade_faults([ax], result.faults, result.until)
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8, ncols=3)
    axes[-1].set_xlabel("simulated time (s)")
    return fig


def figure_png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _show_figures_in_notebooks() -> None:
    """Let a notebook show a plain ``Figure`` that a cell returns, as a PNG.

    Pyplot's inline backend does this only for figures made through pyplot; ours
    are not, so that a figure appears where the lesson returns it and only there.
    """
    ipython = sys.modules.get("IPython")  # loaded in a notebook's kernel; elsewhere there is nothing to do
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type_by_name("matplotlib.figure", "Figure", figure_png)


_show_figures_in_notebooks()
