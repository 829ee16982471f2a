"""The fault panel: renders, re-runs on a change, lets the latest setting win."""

import threading

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


# -- every panel, every control, at its ends ------------------------------------------
def _panels():
    from resilience_lab.lessons import bulkheads, capstone_figures, chaos, circuit_breaker, fallbacks, retries
    from resilience_lab.lessons import timeouts

    return {"lesson1": cascading.panel, "lesson2": timeouts.panel, "lesson3": circuit_breaker.panel,
            "lesson4": bulkheads.panel, "lesson5": retries.panel, "lesson6": fallbacks.panel,
            "lesson7": chaos.panel, "lesson8": capstone_figures.panel}


def _values_to_try(control):
    """A slider's two ends, both states of a toggle, every choice of a set of buttons."""
    if hasattr(control, "min") and hasattr(control, "max"):
        return [control.min, control.max]
    if hasattr(control, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    return [not control.value, control.value]


def _outside(ax):
    """What ``ax`` plots outside its limits: a list of (axis, value, limits)."""
    from resilience_lab.figures.axes import in_view

    wrong = []
    if not in_view(ax):
        wrong.append(("y", ax.get_ylim()))
    low, high = sorted(ax.get_xlim())
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        y = np.asarray(line.get_ydata(), dtype=float)
        shown = x[np.isfinite(y) & np.isfinite(x)]
        if shown.size and (shown.min() < low - 1e-9 or shown.max() > high + 1e-9):
            wrong.append(("x", line.get_label(), (shown.min(), shown.max()), (low, high)))
    return wrong


@pytest.mark.parametrize("lesson", sorted(_panels()))
def test_every_control_draws_at_its_ends_and_every_axes_keeps_its_data_in_view(lesson):
    panel = _panels()[lesson]()
    start = panel.settings()
    tried = 0
    for key, control in panel.controls.items():
        original = control.value
        for value in _values_to_try(control):
            control.value = value
            assert panel.runner.wait(120), f"{lesson}: {key}={value!r} did not finish drawing"
            assert "Could not draw" not in panel.status.value, f"{lesson}: {key}={value!r}: {panel.status.value}"
            assert panel.settings()[key] == value
            for ax in panel.figure.fig.axes:
                assert _outside(ax) == [], f"{lesson}: {key}={value!r}: data off the chart {_outside(ax)}"
            tried += 1
        control.value = original
        assert panel.runner.wait(120)
    assert panel.settings() == start and tried >= 2 * len(panel.controls) - 1


def test_the_same_setting_draws_the_same_axes():
    panel = cascading.panel()
    panel.set(B_latency=480)
    limits = [ax.get_ylim() for ax in panel.figure.fig.axes]
    scales = [ax.get_yscale() for ax in panel.figure.fig.axes]
    panel.set(B_latency=0)
    assert [ax.get_ylim() for ax in panel.figure.fig.axes] != limits  # healthy B: a smaller range
    panel.set(B_latency=480)
    assert [ax.get_ylim() for ax in panel.figure.fig.axes] == limits
    assert [ax.get_yscale() for ax in panel.figure.fig.axes] == scales


def test_lesson1_shows_c_latency_climbing_to_seconds_on_a_log_axis():
    panel = cascading.panel()
    panel.set(B_latency=480)
    ax = panel.figure.ax_latency
    assert np.nanmax(panel.result.summary("C").p99) > 2.0
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] >= np.nanmax(panel.result.summary("C").p99)


def test_a_load_of_zero_draws_an_empty_world_and_the_panel_keeps_working():
    panel = cascading.panel()
    panel.set(load_rate=0)
    assert "Could not draw" not in panel.status.value
    assert len(panel.result.start) == 0
    panel.set(load_rate=150)
    assert len(panel.result.start) > 1000


def test_an_error_in_a_redraw_is_one_line_in_the_panel_which_then_draws_again():
    panel = cascading.panel()
    drawn = panel.image.value
    real = panel.simulate

    def broken(settings):
        if settings[("B", "latency")] == 300:
            raise ZeroDivisionError("float division by zero\nsecond line")
        return real(settings)

    panel.simulate = broken
    panel.set(B_latency=300)
    assert panel.status.value == "<b>Could not draw this setting:</b> ZeroDivisionError: float division by zero"
    assert panel.image.value == drawn  # the last good figure stays
    panel.set(B_latency=480)
    assert "simulated 30 s" in panel.status.value and panel.image.value != drawn


def test_a_runner_survives_an_exception_in_its_work():
    seen = []

    def work(settings):
        if settings == "bad":
            raise RuntimeError("boom")
        seen.append(settings)

    runner = LatestWins(work)
    runner.submit("bad")
    assert runner.wait(5) and isinstance(runner.error, RuntimeError)
    runner.submit("good")
    assert runner.wait(5) and seen == ["good"]


def test_lesson4_panel_compares_a_shared_pool_with_bulkheads_while_payment_hangs():
    from resilience_lab.lessons import bulkheads

    panel = bulkheads.panel()
    shared, partitioned = panel.result["shared"][0], panel.result["partitioned"][0]
    assert [f.label for f in shared.faults] == ["payment: down (hang)"]
    # Profile suffers in the shared pool only; its permits show why.
    assert bulkheads.p99(shared, "profile") > 1.0 > 0.1 > bulkheads.p99(partitioned, "profile")
    _, shared_peak = bulkheads.permits_in_use(shared, "shared")
    _, payment_peak = bulkheads.permits_in_use(partitioned, "payment")
    _, profile_peak = bulkheads.permits_in_use(partitioned, "profile")
    assert shared_peak.max() == 100 and payment_peak.max() == 20 and profile_peak.max() < 20
    panel.set(fault="none")
    assert bulkheads.permits_in_use(panel.result["shared"][0], "shared")[1].max() < 60


def test_set_raises_when_the_redraw_does_not_finish_in_time():
    panel = cascading.panel()
    gate = threading.Event()
    real = panel.simulate
    panel.simulate = lambda settings: (gate.wait(10), real(settings))[1]
    panel.redraw_limit = 0.5
    with pytest.raises(TimeoutError, match="did not finish drawing within 0.5 s"):
        panel.set(B_latency=200)
    gate.set()
    assert panel.runner.wait(30) and panel.result.faults[0].label == "B: +200 ms"


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
    assert "Could not draw" not in panel.status.value and panel.result["ages"].size == 0
    panel.set(down="payments", outage=120, capacity=200)
    order = panel.result["orders"]
    assert len(order.refused) > 0 and not order.lost and order.until >= 210  # the drain is in the picture


def test_lesson4_panel_reruns_only_the_side_whose_setting_changed():
    from resilience_lab.lessons import bulkheads

    panel = bulkheads.panel()
    shared, partitioned = panel.result["shared"][0], panel.result["partitioned"][0]
    panel.set(payment=5)
    assert panel.result["shared"][0] is shared and panel.result["partitioned"][0] is not partitioned
    assert bulkheads.permits_in_use(panel.result["partitioned"][0], "payment")[1].max() == 5
    panel.set(threads=200)
    assert panel.result["shared"][0] is not shared and panel.result["shared"][1] == 200
    before = {side: panel.result[side][0] for side in ("shared", "partitioned")}
    panel.set(fault="none")  # a new fault: both sides run again
    assert all(panel.result[side][0] is not run and not panel.result[side][0].faults for side, run in before.items())
