"""Error budgets and burn-rate alerts, on a timeline of minutes. Plain numbers, no simulation.

**The budget.** A service-level objective (SLO) says that a share ``slo`` of
the requests are good over ``days`` days: 99.9% of page requests over 30 days.
The other ``1 - slo`` may be bad: that is the *error budget*. With the same
traffic every minute it is worth ``(1 - slo) * days * 1440`` minutes of full
outage: 43.2 minutes for 99.9% over 30 days (:func:`budget_minutes`).

**The timeline.** ``bad[m]`` is the share of minute ``m``'s requests that were
bad (0 to 1). Minute ``m`` spends ``bad[m]`` minutes of the budget, so the
budget left after minute ``m`` is ``1 - sum(bad[0..m]) / budget_minutes``
(:func:`budget_left`, a share of the budget; below 0 once the SLO is missed).

**Burn rate.** Over a window of ``w`` minutes ending with minute ``m``::

    burn(m, w) = mean(bad[m-w+1 .. m]) / (1 - slo)

(over the minutes since the start when ``m < w - 1``). A burn rate of 1 spends
exactly the whole budget in the SLO's period; 14.4 spends 2% of a 30-day budget
in one hour (14.4 / 720 hours).

**Alerts** (Google's *Site Reliability Workbook*, chapter "Alerting on SLOs",
multiwindow, multi-burn-rate alerts): an alert fires at minute ``m`` when the
burn rate over its long window **and** over its short window (1/12 of the long
one) are both at least its threshold. The long window makes it significant
(2% of the budget in an hour, 5% in six hours); the short window makes it stop
soon after the bad minutes stop. :data:`ALERTS`:

- page: 14.4x over 1 h and over 5 min;
- page: 6x over 6 h and over 30 min;
- ticket: 1x over 3 days and over 6 h.

**Release freeze** (the workbook's error budget policy): once the budget is
spent, releases stop until the end of the period, except fixes
(:func:`freeze_minute`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MINUTES_PER_DAY = 1440


@dataclass(frozen=True)
class Alert:
    """Fires when the burn rate over ``long`` minutes and over ``short`` minutes is at least ``burn``."""

    name: str
    severity: str  # "page" or "ticket"
    long: int
    short: int
    burn: float


#: The workbook's alerts for a 30-day SLO.
ALERTS = (
    Alert("fast burn", "page", 60, 5, 14.4),
    Alert("slow burn", "page", 360, 30, 6.0),
    Alert("steady burn", "ticket", 3 * MINUTES_PER_DAY, 360, 1.0),
)
PAGES = tuple(a for a in ALERTS if a.severity == "page")


def _slo(slo) -> float:
    ok = isinstance(slo, (int, float)) and not isinstance(slo, bool) and 0 < slo < 1
    if not ok:
        raise ValueError(f"slo must be a share between 0 and 1 (such as 0.999), got {slo!r}")
    return float(slo)


def budget_minutes(slo: float, days: float = 30) -> float:
    """Minutes of full outage the SLO allows over ``days`` days: ``(1 - slo) * days * 1440``."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days < math.inf:
        raise ValueError(f"days must be a number > 0, got {days!r}")
    return (1 - _slo(slo)) * days * MINUTES_PER_DAY


def _timeline(bad) -> np.ndarray:
    values = np.asarray(bad, dtype=float)
    if values.ndim != 1 or not np.all((values >= 0) & (values <= 1)):
        raise ValueError("bad must be a list of shares of bad requests per minute, each from 0 to 1")
    return values


def burn_rates(bad, slo: float, window: int) -> np.ndarray:
    """``burn(m, window)`` for every minute ``m`` of ``bad`` (see the module)."""
    values = _timeline(bad)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a whole number of minutes >= 1, got {window!r}")
    total = np.concatenate([[0.0], np.cumsum(values)])
    m = np.arange(len(values))
    first = np.maximum(0, m - window + 1)
    return (total[m + 1] - total[first]) / (m + 1 - first) / (1 - _slo(slo))


def firing(bad, slo: float, alert: Alert) -> np.ndarray:
    """A boolean per minute: whether ``alert`` fires at that minute.

    A tiny tolerance (1e-9) keeps a burn rate that is exactly the threshold,
    give or take float rounding, counted as reaching it."""
    long = burn_rates(bad, slo, alert.long)
    short = burn_rates(bad, slo, alert.short)
    return (long >= alert.burn - 1e-9) & (short >= alert.burn - 1e-9)


def page_minutes(bad, slo: float) -> list[int]:
    """The minutes at which either page alert of :data:`ALERTS` fires, in order."""
    values = _timeline(bad)
    fires = np.zeros(len(values), dtype=bool)
    for alert in PAGES:
        fires |= firing(values, slo, alert)
    return [int(m) for m in np.nonzero(fires)[0]]


def spent(bad, slo: float, days: float = 30) -> np.ndarray:
    """The share of the budget spent by the end of each minute (1 = all of it)."""
    return np.cumsum(_timeline(bad)) / budget_minutes(slo, days)


def budget_left(bad, slo: float, days: float = 30) -> np.ndarray:
    """The share of the budget left at the end of each minute (below 0 once it is overspent)."""
    return 1.0 - spent(bad, slo, days)


def freeze_minute(bad, slo: float, days: float = 30) -> int | None:
    """The first minute at whose end the whole budget is spent (releases stop from
    the next minute on), or None if it never is."""
    over = np.nonzero(spent(bad, slo, days) >= 1.0 - 1e-12)[0]
    return int(over[0]) if over.size else None


def alert_spans(fires: np.ndarray) -> list[tuple[int, int]]:
    """``[(first minute, last minute + 1), ...]`` of each run of consecutive firing minutes."""
    fires = np.asarray(fires, dtype=bool)
    edges = np.diff(np.concatenate([[0], fires.astype(int), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))
