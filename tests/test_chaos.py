"""Lesson 7: experiments as Chaos Toolkit data, run against the simulated world.

Properties with margins, not exact floats: the simulator's random streams may change.
"""

import copy
import json
import math

import numpy as np
import pytest

from resilience_lab.lessons import chaos
from resilience_lab.lessons import chaos_providers as providers
from resilience_lab.lessons import chaos_session as S
from resilience_lab.outcomes import Outcome
from resilience_lab.world import World


@pytest.fixture(scope="module")
def experiment():
    return chaos.lesson_experiment()


@pytest.fixture(scope="module")
def weak(experiment):
    return chaos.run_experiment(experiment, chaos.weak_world())


@pytest.fixture(scope="module")
def fixed(experiment):
    return chaos.run_experiment(experiment, chaos.fixed_world())


@pytest.fixture(scope="module")
def runaway(experiment):
    return chaos.run_experiment(chaos.without_abort(experiment), chaos.weak_world())


# -- the file and its validation -------------------------------------------------------
def test_the_lesson_file_is_a_chaos_toolkit_experiment(experiment):
    from chaoslib.experiment import ensure_experiment_is_valid

    ensure_experiment_is_valid(experiment)  # raises if Chaos Toolkit refuses it
    assert set(experiment) >= {"title", "description", "steady-state-hypothesis", "method", "rollbacks"}
    assert json.loads(chaos.EXPERIMENTS.joinpath("b-answers-slowly.json").read_text()) == experiment


@pytest.mark.parametrize("change, message", [
    (lambda e: e["steady-state-hypothesis"]["probes"][0].pop("tolerance"), "must have a tolerance"),
    (lambda e: e["method"][0]["provider"].update(type="process", path="rm"), "every provider here is of type"),
    (lambda e: e["method"][0]["provider"].update(module="os"), "every provider here is of type"),
    (lambda e: e["method"][0]["provider"].update(func="p99_latency"), "an action calls one of"),
    (lambda e: e["method"][1].update(pauses={"after": 30}), "would sleep in real time"),
    (lambda e: e["method"][1].update(background=True), "background"),
    (lambda e: e.update(secrets={"k": {"v": {"type": "env", "key": "HOME"}}}), "no secrets"),
    (lambda e: e.update(configuration={"x": {"type": "env", "key": "HOME"}}), "only plain values"),
    (lambda e: e["controls"][0]["provider"]["arguments"].update(probes=[]), "abort control takes"),
    (lambda e: e["controls"][0]["provider"].update(module="chaosaddons.controls.safeguards"), "every provider"),
    (lambda e: e.pop("steady-state-hypothesis"), "at least one probe"),
])
def test_validate_refuses_what_chaos_toolkit_or_the_course_does_not_allow(experiment, change, message):
    bad = copy.deepcopy(experiment)
    change(bad)
    with pytest.raises(ValueError, match=message):
        chaos.validate(bad)


def test_an_experiment_runs_from_its_file_and_from_yaml(tmp_path, experiment):
    import yaml

    path = tmp_path / "slow-b.yaml"
    path.write_text(yaml.safe_dump(experiment))
    assert chaos.load_experiment(path) == experiment
    assert chaos.run_experiment(path, chaos.fixed_world()).held


# -- reports ---------------------------------------------------------------------------
def test_the_weak_world_deviates_during_the_fault_and_the_abort_stops_it(weak):
    assert weak.status == "deviated" and weak.deviated and not weak.held
    assert weak.checks[0].phase == "before" and weak.checks[0].met
    dev = weak.deviation
    start = weak.fault_start
    assert dev.phase == "during" and start < dev.time <= start + 6
    assert [name for name, _, within in dev.probes if not within][0] == "p99 latency of A for users (s)"
    assert weak.aborted is not None and dev.time <= weak.aborted.time <= start + 10
    assert weak.journal["status"] == "interrupted"  # Chaos Toolkit's own word for it
    # The rollback ran although the experiment was interrupted: the fault ends at the abort.
    assert weak.faults[0].end == weak.aborted.time
    assert weak.checks[-1].phase == "after" and weak.checks[-1].met  # recovered


def test_the_fixed_world_holds_at_every_check(fixed):
    assert fixed.held and fixed.status == "held" and fixed.deviation is None and fixed.aborted is None
    phases = [c.phase for c in fixed.checks]
    assert phases[0] == "before" and phases[-2:] == ["end of method", "after"]
    assert phases.count("during") == 15  # every 2 s of the 30 s wait
    assert all(c.met for c in fixed.checks) and fixed.users_failed() == 0
    assert fixed.journal["status"] == "completed" and fixed.journal["deviated"] is False
    during = [dict((n, v) for n, v, _ in c.probes)["p99 latency of A for users (s)"] for c in fixed.checks
              if c.phase == "during"]
    assert 0.2 < min(during) and max(during) < 0.3  # the 0.25 s timeout, plus A's own work


def test_chaos_toolkit_s_own_verdict_agrees_with_the_report(runaway):
    """Without abort criteria Chaos Toolkit itself sees the deviation at the end of the method."""
    assert runaway.deviated and runaway.aborted is None
    assert runaway.journal["deviated"] is True
    end = next(c for c in runaway.checks if c.phase == "end of method")
    assert not end.met and end.time == pytest.approx(runaway.fault_start + 30)


def test_abort_criteria_limit_the_blast_radius(weak, runaway):
    assert runaway.users_failed() > 4 * weak.users_failed() > 0


def test_an_experiment_whose_steady_state_fails_before_any_fault_is_not_steady(experiment):
    strict = copy.deepcopy(experiment)
    strict["steady-state-hypothesis"]["probes"][0]["tolerance"] = [0, 0.001]
    report = chaos.run_experiment(strict, chaos.weak_world())
    assert report.status == "not steady" and len(report.checks) == 1 and not report.faults
    assert report.journal["steady_states"]["before"]["steady_state_met"] is False


def test_a_fault_the_rollbacks_forget_stays_on_through_the_recovery(experiment):
    forgetful = {**copy.deepcopy(experiment), "rollbacks": [], "controls": []}
    report = chaos.run_experiment(forgetful, chaos.weak_world())
    assert math.isinf(report.faults[0].end)
    assert not report.checks[-1].met and report.checks[-1].phase == "after"


def test_a_failed_action_is_named_in_the_report(experiment):
    bad = copy.deepcopy(experiment)
    bad["method"][0]["provider"]["arguments"]["service"] = "nowhere"
    report = chaos.run_experiment(bad, chaos.weak_world())
    assert report.faults == [] and report.held  # nothing was injected...
    assert report.failed_activities and "unknown service 'nowhere'" in report.failed_activities[0][1]
    assert "FAILED" in str(report)  # ...and the report says so


def test_a_run_repeats_exactly(experiment):
    a = chaos.run_experiment(experiment, chaos.weak_world())
    b = chaos.run_experiment(experiment, chaos.weak_world())
    assert str(a) == str(b) and np.array_equal(a.result.end, b.result.end)


def test_the_engine_runs_outside_the_main_thread_too(experiment):
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.update(r=chaos.run_experiment(experiment, chaos.fixed_world())))
    thread.start()
    thread.join(60)
    assert out["r"].held


def test_chaos_toolkit_alone_runs_the_file_against_the_weak_world(experiment):
    """As `chaos run` would: no session set up, the providers act on the lesson's weak world."""
    from chaoslib.experiment import run_experiment

    providers.activate(None)
    try:
        journal = run_experiment(chaos.without_abort(experiment))
    finally:
        providers.activate(None)
    assert journal["status"] == "completed" and journal["deviated"] is True


# -- the session: faults, measurements, the monkey -----------------------------------------
def test_measurements_use_only_what_is_known_at_their_time():
    world = World(seed=3)
    world.service("S", workers=100, latency=0.01)
    world.load("S", rate=50)
    world.inject_latency("S", 2.0, start=10)
    result = world.run(14)
    # At 11 s the slow calls started in the last 5 s are still waiting: counted with the wait so far.
    assert 0.9 < S.measure(result, "p99_latency", 11.0, "S") <= 1.0 + 1e-9
    assert S.measure(result, "p50_latency", 9.9, "S") == pytest.approx(0.01)
    assert S.measure(result, "error_rate", 11.0, "S") == 0.0
    assert 40 < S.measure(result, "ok_per_second", 10.0, "S") < 60
    with pytest.raises(ValueError, match="unknown measurement 'p98'"):
        S.measure(result, "p98", 5.0, "S")


def test_error_rate_counts_failures_and_not_fallbacks():
    world = World(seed=4)
    world.service("S", workers=100, latency=0.01, error_rate=0.5)
    world.load("S", rate=100)
    rate = S.measure(world.run(10), "error_rate", 10.0, "S", window=8)
    assert 0.4 < rate < 0.6


def test_a_fault_added_now_does_not_change_the_past():
    session = S.Session(chaos.weak_world(), warmup=10)
    before = session.measure("p99_latency", "A", caller="client")
    session.inject(S.AddedLatency, "B", seconds=3.0)
    session.advance(5, checking=False)
    assert session.result.until == 15
    session.now = 10.0
    assert session.measure("p99_latency", "A", caller="client") == before


def test_end_faults_ends_what_is_on_and_drops_what_has_not_started():
    session = S.Session(chaos.weak_world(), warmup=5)
    session.inject(S.ErrorRate, "B", rate=0.5)
    session.chaos_monkey("B", duration=60, every=5, down_for=2, seed=1)
    session.advance(10, checking=False)
    session.end_faults()
    assert all(f.end <= 15 and f.start < 15 for f in session.faults)
    assert session.faults[0].end == 15


def test_the_monkey_draws_its_schedule_from_its_seed():
    one = S.monkey_schedule(seed=1, start=10, duration=100, every=5, instances=3, down_for=2)
    assert one == S.monkey_schedule(seed=1, start=10, duration=100, every=5, instances=3, down_for=2)
    assert one != S.monkey_schedule(seed=2, start=10, duration=100, every=5, instances=3, down_for=2)
    assert all(10 < t < 110 for t, _ in one) and {i for _, i in one} == {0, 1, 2}
    assert 10 <= len(one) <= 32  # about 100 / 5 = 20 kills


def test_a_chaos_monkey_on_a_kills_users_requests_even_on_the_fixed_world():
    monkey = chaos.lesson_experiment()
    monkey["method"][0] = chaos.action("monkey", "chaos_monkey", service="A", duration=30, every=3, down_for=3,
                                       seed=4)
    report = chaos.run_experiment(chaos.without_abort(monkey), chaos.fixed_world())
    assert report.deviated and report.users_failed() > 20
    assert all(f.service == "A" for f in report.faults) and len(report.faults) >= 4
    r = report.result
    assert np.count_nonzero(r.calls_to("A", "client") & (r.outcome == Outcome.ERROR)) == report.users_failed()


@pytest.mark.parametrize("func, arguments, message", [
    ("wait", {"seconds": 0}, "seconds must be a number > 0"),
    ("inject_latency", {"service": "C", "seconds": 1}, "unknown service 'C'"),
    ("inject_errors", {"service": "B", "rate": 2}, "rate must be a number"),
    ("remove_capacity", {"service": "B", "workers": 99}, "cannot remove 99 workers"),
    ("chaos_monkey", {"service": "B", "duration": -1}, "duration must be a number"),
    ("p99_latency", {"service": "B", "window": 0}, "window must be a number"),
])
def test_providers_refuse_bad_arguments_with_a_clear_message(func, arguments, message):
    providers.activate(S.Session(chaos.weak_world(), warmup=5))
    try:
        with pytest.raises(ValueError, match=message):
            getattr(providers, func)(**arguments)
    finally:
        providers.activate(None)


# -- figures and the panel -----------------------------------------------------------------
def test_the_report_figure_shows_each_probe_against_its_tolerance(weak):
    from resilience_lab.figures.axes import in_view

    fig = chaos.plot_report(weak)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3  # two hypothesis probes, one abort criterion
    for ax in axes:
        assert in_view(ax)
        assert any(abs(p.get_x() - weak.fault_start) < 1e-9 for p in ax.patches)  # the fault shaded
    p99 = axes[0].get_lines()[0].get_ydata()
    assert np.nanmax(p99) > 1.0 and 0.5 in axes[0].get_lines()[2].get_ydata()  # the tolerance's top
    assert "DEVIATED" in fig._suptitle.get_text() and "aborted" in fig._suptitle.get_text()


def test_the_panel_redraws_for_each_fault_and_world():
    panel = chaos.panel()
    first = panel.image.value
    assert panel.result.deviated  # B slow on the weak world
    panel.set(world="fixed")
    assert panel.result.held and panel.image.value != first
    panel.set(fault="errors", world="weak")
    assert panel.result.held  # the weak world's fallback answers errors
    panel.set(abort=100, fault="latency")
    assert panel.result.aborted is None and panel.result.users_failed() > 500
    assert "Could not draw" not in panel.status.value


def test_an_idle_service_measures_zero():
    world = World(seed=5)
    world.service("S", workers=10, latency=0.01)
    world.service("idle", workers=10, latency=0.01)
    world.load("S", rate=20)
    result = world.run(10)
    assert [S.measure(result, what, 10.0, "idle") for what in S.MEASURES] == [0.0, 0.0, 0.0, 0.0]
