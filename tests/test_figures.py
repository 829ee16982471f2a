"""The axes helpers every live figure uses (resilience_lab.figures.axes)."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from resilience_lab.figures.axes import fit_y, in_view, nice_ceiling


@pytest.mark.parametrize("value, nice", [(0.93, 1.0), (1.0, 1.0), (1.01, 1.2), (113.0, 120.0), (2600, 3000),
                                         (0.00041, 0.0005), (7.9, 8.0), (8.1, 10.0)])
def test_nice_ceiling_is_the_next_nice_number(value, nice):
    assert math.isclose(nice_ceiling(value), nice)


def _axes(*series):
    ax = Figure().subplots()
    for y in series:
        ax.plot(np.arange(len(y)), y)
    return ax


def test_linear_from_zero_to_a_nice_top_that_holds_every_value():
    ax = fit_y(_axes([3.0, 117.0, np.nan, 40.0]))
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (0.0, 150.0) and in_view(ax)


def test_log_when_the_data_span_the_given_decades_and_back_to_linear_when_not():
    ax = _axes([0.02, 0.03, 4.5])
    fit_y(ax, log=True)
    assert ax.get_yscale() == "log" and ax.get_ylim() == (0.01, 10.0) and in_view(ax)
    ax.lines[0].set_ydata([0.02, 0.03, 0.05])
    fit_y(ax, log=True)
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0.0 and in_view(ax)


def test_axes_sharing_y_are_fitted_to_the_data_of_all_of_them():
    fig = Figure()
    left, right = fig.subplots(1, 2, sharey=True)
    left.plot([0, 1], [1, 2])
    right.plot([0, 1], [1, 900])
    fit_y([left, right])
    assert in_view(left) and in_view(right) and right.get_ylim()[1] == 1000.0


def test_in_view_sees_a_value_off_the_chart():
    ax = _axes([1.0, 5.0])
    ax.set_ylim(0, 2)
    assert not in_view(ax)


def test_negative_values_move_the_floor_below_zero():
    ax = fit_y(_axes([-3.0, 2.0]))
    assert ax.get_ylim()[0] < -3.0 and in_view(ax)
