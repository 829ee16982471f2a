"""The fault panel: renders, re-runs on a change, lets the latest setting win."""

import threading
import time

import numpy as np
import pytest

from resilience_lab import Outcome
from resilience_lab.lessons import cascading
from resilience_lab.figures.panel import FaultPanel, LatestWins, world_with


def test_panel_draws_on_creation_and_redraws_when_a_slider_moves():
    panel = cascading.panel()
    before = panel.image.value
    assert before[:4] == b"\x89PNG"
    assert np.nanmax(panel.result.summary("C").p99) < 0.2  # no fault yet: healthy
    panel.set(B_latency=480)
    assert panel.image.value != before
    assert panel.result.faults[0].label == "B: +480 ms"
    assert np.nanmax(panel.result.summary("C").p99) > 2.0  # the cascade reaches C
    assert "simulated 30 s" in panel.status.value


def test_a_fault_button_changes_the_figure():
    world = cascading.cascade_world(b_extra=0)
    panel = FaultPanel(world, until=10, window=(3, 6), controls={"B": ["outage"]})
    before = panel.image.value
    panel.set(B_outage=True)
    assert panel.image.value != before
    assert panel.result.count("B", Outcome.ERROR, since=3, until=6) > 100


def test_panel_settings_never_change_the_world_they_started_from():
    world = cascading.cascade_world(b_extra=0)
    changed = world_with(world, {("B", "latency"): 300, ("A", "workers"): 10, ("load", "rate"): 99}, (1, 2))
    assert world.faults == [] and world.services["A"].workers == 50 and world.loads[0].rate == 150
    assert changed.services["A"].workers == 10 and changed.loads[0].rate == 99 and len(changed.faults) == 1


def test_latest_setting_wins_and_stale_ones_are_dropped():
    seen, gate = [], threading.Event()

    def slow_work(settings):
        gate.wait(5)
        seen.append(settings)

    runner = LatestWins(slow_work)
    for value in range(20):
        runner.submit(value)
    gate.set()
    assert runner.wait(5)
    assert seen[-1] == 19 and len(seen) <= 2


def test_unknown_controls_are_refused_by_name():
    world = cascading.cascade_world()
    with pytest.raises(ValueError, match="unknown service 'Q'"):
        FaultPanel(world, controls={"Q": ["latency"]})
    with pytest.raises(ValueError, match="unknown control 'speed'"):
        FaultPanel(world, controls={"B": ["speed"]})
    panel = FaultPanel(world, until=5, window=(1, 2), controls={"B": ["latency"]})
    with pytest.raises(ValueError, match="no control 'A_workers'"):
        panel.set(A_workers=3)


def test_timeout_panel_bounds_the_cascade_only_while_a_timeout_is_set():
    from resilience_lab.lessons import timeouts

    panel = timeouts.panel()  # B 480 ms slower, 100 ms timeout
    with_timeout = panel.image.value
    assert timeouts.peak_busy(panel.result, "A", 10, 20) < 0.9
    panel.set(timeout=0)
    assert panel.image.value != with_timeout
    assert timeouts.peak_busy(panel.result, "A", 10, 20) == 1.0
    assert "timed out" in panel.status.value


def test_herd_panel_jitter_lowers_the_peak_after_recovery():
    from resilience_lab.lessons import retries

    panel = retries.panel()
    no_jitter = retries.peak_after(panel.result, since=1.0)
    before = panel.image.value
    panel.set(jitter="full")
    assert panel.image.value != before
    assert retries.peak_after(panel.result, since=1.0) < no_jitter / 2


def test_fallback_panel_draws_every_setting_and_redraws_what_it_says():
    from resilience_lab.lessons import fallbacks

    panel = fallbacks.panel()  # recommendations down for 60 s, TTL 30 s
    assert fallbacks.availability(panel.result["pages"]) == 1.0
    assert panel.result["ages"].max() <= 30
    before = panel.image.value
    panel.set(down="price")
    assert panel.image.value != before and fallbacks.availability(panel.result["pages"]) == 0.0
    assert panel.status.value.startswith("price down for 60 s")
    panel.set(outage=0, ttl=0, capacity=0)  # no outage, no cache, a queue that holds nothing: all valid
    assert "Cannot run" not in panel.status.value and panel.result["ages"].size == 0
    panel.set(down="payments", outage=120, capacity=200)
    order = panel.result["orders"]
    assert len(order.refused) > 0 and not order.lost and order.until >= 210  # the drain is in the picture
