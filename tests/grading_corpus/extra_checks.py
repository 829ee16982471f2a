"""Instructor-only checks of exercise 1, for the grader's tests of --extra-checks.

Students never see this file: the grader loads it into the kernel only after the
last student cell ran, and the feedback shows the check's id, message and hint.
"""

from resilience_lab.checks import expect_close, graded

EXERCISE = "01-cascading-failures"


@graded("l1-hidden-one-worker", points=1, hint="One worker is still a pool: the same formula holds.")
def check_one_worker(student):
    # HIDDEN-CHECK-CODE: this line must never reach a feedback page.
    expect_close("max_throughput(1, 0.004)", student["max_throughput"](1, 0.004), 250.0, rel=1e-9)


@graded("l1-hidden-exact-fill", points=2, hint="Arrivals, not completions, fill the pool.")
def check_exact_fill(student):
    expect_close("time_to_fill(200, 400, 1.0)", student["time_to_fill"](200, 400, 1.0), 0.5, rel=1e-9)
