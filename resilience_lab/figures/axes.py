"""Axes that follow their data: what every live figure calls after a redraw.

Rule (:func:`fit_y`): after the lines' data change, the y-axis is fitted to the
finite values of the axes' visible lines, so nothing plotted is ever outside
the chart. The limits are a function of the data alone, rounded out to a
"nice" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten), so a
redraw with the same data, or nearly the same, leaves the axes where they were.

- Linear (the default): from ``floor`` (0) to the nice number at or above
  ``headroom`` (1.08) times the largest value.
- Logarithmic, when ``log=True`` is allowed and the positive values span at
  least ``decades`` (2) powers of ten: whole decades around the data, with
  ticks at 1, 2 and 5 of each decade (at 1 only beyond three decades), labelled
  in plain numbers (0.02, 0.5, 2).

:func:`shade_faults` shades each fault's window on every axes and writes the
faults' labels one under the other in the top one, so two faults that start
together do not print over each other.
"""

from __future__ import annotations

import math

import numpy as np

NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
FAULT_COLOUR = "#f2b134"


def nice_ceiling(value: float) -> float:
    """The smallest "nice" number (see the module) at or above ``value`` (> 0)."""
    if not value > 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in NICE:
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10.0 * power


def plotted_y(ax) -> np.ndarray:
    """The finite y-values of the visible lines of ``ax``."""
    chunks = [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines() if line.get_visible()]
    values = np.concatenate(chunks) if chunks else np.empty(0)
    return values[np.isfinite(values)]


def fit_y(axes, *, floor=0.0, log=False, decades=2.0, headroom=1.08, empty_top=1.0):
    """Fit the y-limits (and scale, when ``log``) of ``axes`` (one axes, or several
    that share their y-axis) to the data of all their lines. See the module."""
    group = list(axes) if isinstance(axes, (list, tuple, np.ndarray)) else [axes]
    values = np.concatenate([plotted_y(ax) for ax in group])
    for ax in group:
        _fit(ax, values, floor, log, decades, headroom, empty_top)
    return axes


def _fit(ax, values, floor, log, decades, headroom, empty_top):
    positive = values[values > 0]
    if log and positive.size and positive.max() / positive.min() >= 10 ** decades:
        ax.set_yscale("log")
        low = 10.0 ** math.floor(math.log10(positive.min()))
        high = 10.0 ** math.ceil(math.log10(positive.max() * headroom))
        plain_log_ticks(ax.yaxis, round(math.log10(high / low)))
        ax.set_ylim(low, high)
        return
    if ax.get_yscale() != "linear":
        ax.set_yscale("linear")
        from matplotlib.ticker import AutoLocator, ScalarFormatter
        ax.yaxis.set_major_locator(AutoLocator())
        ax.yaxis.set_major_formatter(ScalarFormatter())
    top = nice_ceiling(values.max() * headroom) if values.size and values.max() > 0 else empty_top
    bottom = floor if not values.size or values.min() >= floor else -nice_ceiling(-values.min() * headroom)
    ax.set_ylim(bottom, top)


def plain_log_ticks(axis, decades=2):
    """Ticks at 1, 2 and 5 of each decade of a log ``axis`` (``ax.xaxis`` or ``ax.yaxis``),
    or at 1 only when it spans more than 3 ``decades``, labelled as plain numbers
    (0.05, 0.1, 0.2) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def in_view(ax, tolerance=1e-9) -> bool:
    """Whether every finite value of ``ax``'s visible lines lies within its y-limits."""
    values = plotted_y(ax)
    if ax.get_yscale() == "log":
        values = values[values > 0]
    if not values.size:
        return True
    low, high = sorted(ax.get_ylim())
    span = max(high - low, 1e-12)
    return bool(values.min() >= low - tolerance * span and values.max() <= high + tolerance * span)


def shade_faults(axes, faults, until, *, label_ax=None, colour=FAULT_COLOUR):
    """Shade each fault's window (clipped to ``until``) on every axes of ``axes``; label
    them, one line each, at the top of ``label_ax``. Returns the artists (to remove later)."""
    artists = []
    shown = [f for f in faults if f.start < until]
    for row, fault in enumerate(shown):
        end = min(fault.end, until)
        for ax in axes:
            artists.append(ax.axvspan(fault.start, end, color=colour, alpha=0.18, lw=0))
        if label_ax is not None:
            artists.append(label_ax.text(
                fault.start, 0.97 - 0.11 * row, " " + fault.label, transform=label_ax.get_xaxis_transform(),
                va="top", ha="left", fontsize=8, color="#8a5a00",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            ))
    return artists
