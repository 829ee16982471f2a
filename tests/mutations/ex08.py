"""Exercise 8, the capstone: answers written differently, and mistakes.

cell-04 is ``error_budget``, cell-07 ``page_minutes``, cell-10 ``protect``. The
hidden check ``l8-unseen-months`` comes from ``hidden/ex08_unseen_months.py``
(five months from the test suite's fixed seeds), which the suite passes to the
grader as an instructor would.
"""

EXERCISE = "08-capstone"
EXTRA_CHECKS = "hidden/ex08_unseen_months.py"


def page_minutes(condition):
    """cell-07 with the solution's running sums and ``condition`` deciding a page at minute m."""
    return {"cell-07": f"""def page_minutes(bad, slo):
    total = [0.0]
    for share in bad:
        total.append(total[-1] + share)

    def burn(m, window):
        first = max(0, m - window + 1)
        return (total[m + 1] - total[first]) / (m + 1 - first) / (1 - slo)

    return [m for m in range(len(bad)) if {condition}]
"""}


def protect(body):
    return {"cell-10": "def protect(plan):\n" + body}


#: The solution's plan, to start mistakes from.
SOLUTION_PLAN = """    for feature in lesson.OPTIONAL:
        plan.protect("frontend", feature, Fallback(), Bulkhead(20),
                     CircuitBreaker(failure_rate=0.5, window=5, minimum_calls=10, open_for=2), Timeout(0.25))
    for dependency in ("catalog", "pricing"):
        retry = Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1))
        plan.protect("frontend", dependency, retry,
                     CircuitBreaker(failure_rate=0.5, window=5, minimum_calls=20, open_for=2), Timeout(0.3))
    plan.protect("client", "frontend", Deadline(1.0))
    plan.add_workers("catalog", 1)
"""

CORRECT = {
    # numpy for the windows; no breakers, wider bulkheads, a smaller retry budget, more workers.
    "numpy-no-breakers": {
        "cell-04": "def error_budget(slo, days):\n    return (1.0 - slo) * days * 1440.0\n",
        "cell-07": """import numpy as np

def page_minutes(bad, slo):
    bad = np.asarray(bad, dtype=float)
    total = np.concatenate([[0.0], np.cumsum(bad)])
    m = np.arange(len(bad))

    def burn(window):
        first = np.maximum(0, m - window + 1)
        return (total[m + 1] - total[first]) / (m + 1 - first) / (1 - slo)

    fast = (burn(60) >= 14.4) & (burn(5) >= 14.4)
    slow = (burn(360) >= 6) & (burn(30) >= 6)
    return np.flatnonzero(fast | slow).tolist()
""",
        **protect("""    for feature in ("recommendations", "reviews"):
        plan.protect("frontend", feature, Fallback(), Bulkhead(30), Timeout(0.3))
    for dependency in ("catalog", "pricing"):
        plan.protect("frontend", dependency, Retry(3, Backoff("equal", 0.02, 0.2), budget=RetryBudget(0.3, 10, 2)),
                     Timeout(0.3))
    plan.protect("client", "frontend", Deadline(1.0))
    plan.add_workers("catalog", 2)
"""),
    },
    # Windows summed again for every minute (slow, but right); one bulkhead shared by both
    # optional features; deadlines per attempt on the critical path; no deadline on the page.
    "slices-shared-bulkhead-deadlines": {
        "cell-04": "def error_budget(slo, days):\n    minutes = days * 24 * 60\n    return minutes - slo * minutes\n",
        "cell-07": """def page_minutes(bad, slo):
    def burn(m, window):
        recent = bad[max(0, m - window + 1):m + 1]
        return sum(recent) / len(recent) / (1 - slo)

    pages = []
    for m in range(len(bad)):
        fast = burn(m, 60) >= 14.4 and burn(m, 5) >= 14.4
        slow = burn(m, 360) >= 6 and burn(m, 30) >= 6
        if fast or slow:
            pages.append(m)
    return pages
""",
        **protect("""    shared = Bulkhead(40)
    for feature in lesson.OPTIONAL:
        plan.protect("frontend", feature, Fallback(), shared,
                     CircuitBreaker(failure_rate=0.5, window=10, minimum_calls=20, open_for=5), Timeout(0.2))
    for dependency in ("catalog", "pricing"):
        plan.protect("frontend", dependency, Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1)),
                     Deadline(0.35))
    plan.add_workers("catalog", 1)
    plan.add_workers("pricing", 1)
"""),
    },
    # A table of alerts with a deque per window; patterns made once, at module level, and a
    # table of routes (the same stateless Timeout and Fallback objects on two routes).
    "tables-and-module-level-patterns": {
        "cell-04": "def error_budget(slo, days):\n    return round((1 - slo) * days * 1440, 9)\n",
        "cell-07": """from collections import deque

ALERTS = [((60, 5), 14.4), ((360, 30), 6.0)]

def page_minutes(bad, slo):
    windows = {w: deque() for (long, short), _ in ALERTS for w in (long, short)}
    sums = {w: 0.0 for w in windows}
    pages = []
    for m, share in enumerate(bad):
        for w, recent in windows.items():
            recent.append(share)
            sums[w] += share
            if len(recent) > w:
                sums[w] -= recent.popleft()
        burn = {w: sums[w] / len(windows[w]) / (1 - slo) for w in windows}
        if any(burn[long] >= limit - 1e-9 and burn[short] >= limit - 1e-9 for (long, short), limit in ALERTS):
            pages.append(m)
    return pages
""",
        **protect("""    for (caller, target), patterns in PROTECTION.items():
        plan.protect(caller, target, *patterns)
    plan.add_workers("catalog", 2)


FEATURE = (Fallback(), Timeout(0.25))
PROTECTION = {
    ("frontend", "recommendations"): FEATURE,
    ("frontend", "reviews"): FEATURE,
    ("frontend", "catalog"): (Retry(3, Backoff("decorrelated", 0.01, 0.2), budget=RetryBudget(0.35, 10, 0)),
                              Timeout(0.4)),
    ("frontend", "pricing"): (Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.35, 10, 0)), Timeout(0.2)),
    ("client", "frontend"): (Deadline(1.0),),
}
"""),
    },
}

WRONG = {
    # -- the budget
    "budget-in-hours": ({"cell-04": "def error_budget(slo, days):\n    return (1 - slo) * days * 24\n"},
                        "l8-budget"),
    "budget-from-the-slo-itself": ({"cell-04": "def error_budget(slo, days):\n    return slo * days * 24 * 60\n"},
                                   "l8-budget"),
    # -- the pages
    "long-windows-only": (page_minutes("burn(m, 60) >= 14.4 or burn(m, 360) >= 6"), "l8-alerts"),
    "short-windows-only": (page_minutes("burn(m, 5) >= 14.4 or burn(m, 30) >= 6"), "l8-alerts"),
    "either-window-of-a-pair": (page_minutes(
        "(burn(m, 60) >= 14.4 or burn(m, 5) >= 14.4) or (burn(m, 360) >= 6 or burn(m, 30) >= 6)"), "l8-alerts"),
    "thresholds-swapped": (page_minutes(
        "(burn(m, 60) >= 6 and burn(m, 5) >= 6) or (burn(m, 360) >= 14.4 and burn(m, 30) >= 14.4)"), "l8-alerts"),
    "whole-window-at-the-start": ({"cell-07": """def page_minutes(bad, slo):
    def burn(m, window):
        return sum(bad[max(0, m - window + 1):m + 1]) / window / (1 - slo)

    return [m for m in range(len(bad))
            if (burn(m, 60) >= 14.4 and burn(m, 5) >= 14.4) or (burn(m, 360) >= 6 and burn(m, 30) >= 6)]
"""}, "l8-alerts"),
    # -- the costs
    "retries-without-a-budget": (protect(SOLUTION_PLAN.replace(
        ", budget=RetryBudget(0.4, 10, 1)", "")), "l8-costs"),
    "retries-at-two-layers": (protect("""    for feature in lesson.OPTIONAL:
        plan.protect("frontend", feature, Fallback(), Timeout(0.25))
    for caller, target in (("frontend", "catalog"), ("catalog", "db"), ("frontend", "pricing")):
        plan.protect(caller, target, Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1)),
                     Timeout(0.3))
    plan.add_workers("catalog", 1)
"""), "l8-costs"),
    "too-many-workers": (protect(SOLUTION_PLAN.replace('plan.add_workers("catalog", 1)',
                                                       'plan.add_workers("catalog", 5)')), "l8-costs"),
    "fallback-on-the-critical-path": (protect(SOLUTION_PLAN.replace("plan.protect(\"frontend\", dependency, retry,",
                                                                    "plan.protect(\"frontend\", dependency, "
                                                                    "Fallback(), retry,")), "l8-costs"),
    # -- the example month
    "forgets-reviews": (protect(SOLUTION_PLAN.replace("for feature in lesson.OPTIONAL:",
                                                      "for feature in [\"recommendations\"]:")), "l8-example-month"),
    "timeout-at-the-median": (protect(SOLUTION_PLAN.replace("Timeout(0.3))", "Timeout(0.07))")),
                              "l8-example-month"),
    # -- the months the student cannot see
    "no-workers-for-lost-capacity": (protect(SOLUTION_PLAN.replace('    plan.add_workers("catalog", 1)\n', "")),
                                     "l8-unseen-months"),
    # Protects exactly what goes wrong in the example month (optional features, pricing),
    # and passes it; catalog is never hit there, so nothing protects it.
    "hard-coded-for-the-example-month": (protect("""    for feature in ("recommendations", "reviews"):
        plan.protect("frontend", feature, Fallback(), Timeout(0.25))
    plan.protect("frontend", "pricing", Retry(3, Backoff("full", 0.01, 0.1), budget=RetryBudget(0.4, 10, 1)),
                 Timeout(0.3))
"""), "l8-unseen-months"),
}
