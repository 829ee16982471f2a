"""Figures and the live panels of the lessons.

- :mod:`.run`: a run of the world in three panels (latency, answers, pools);
- :mod:`.breaker`: breaker state bands, the state diagram, side-by-side runs;
- :mod:`.panel`: the widget machinery that re-runs a world when a slider moves.

A lesson imports what it shows from here, for example
``from resilience_lab.figures import plot_run``. Matplotlib and ipywidgets are
imported only when a figure or a panel is made, so the graded checks, which
import the lessons, do not pay for them.
"""

from .breaker import plot_breaker_runs, plot_compare, plot_state_diagram
from .run import plot_pools, plot_run

__all__ = ["plot_breaker_runs", "plot_compare", "plot_pools", "plot_run", "plot_state_diagram"]
