"""Exercise 2, a timeout policy and choosing a timeout: answers written differently, and mistakes."""

EXERCISE = "02-timeouts"


def _policy(body, init="        self.seconds = seconds\n", before=""):
    """cell-04 with ``body`` (indented for with_timeout) in place of the solution."""
    return ("class MyTimeout:\n"
            "    def __init__(self, seconds):\n" + init + "\n"
            "    def wrap(self, run, caller, target, call):\n"
            "        env = run.env\n" + before + "\n"
            "        def with_timeout(ctx):\n" + body + "\n"
            "        return with_timeout\n")


def _choose(body, imports=""):
    return imports + "def choose_timeout(samples, budget):\n" + body


CORRECT = {
    "any-of-and-condition-value": {
        "cell-04": _policy("            answer = env.process(call(ctx))\n"
                           "            done = yield env.any_of([answer, env.timeout(self.seconds)])\n"
                           "            if answer in done:\n"
                           "                return done[answer]\n"
                           "            return Outcome.TIMEOUT\n"),
        "cell-10": _choose("    values = np.sort(np.asarray(samples, dtype=float))\n"
                           "    k = int(np.floor(budget * values.size + 1e-9))\n"
                           "    return values[values.size - 1 - k]\n", "import numpy as np\n\n"),
    },
    "watchdog-interrupts-the-caller": {
        "cell-04": "import simpy\n\n"
                   "class MyTimeout:\n"
                   "    def __init__(self, seconds):\n"
                   "        if seconds <= 0:\n"
                   "            raise ValueError('a timeout needs seconds > 0')\n"
                   "        self.seconds = float(seconds)\n\n"
                   "    def _watchdog(self, env, answer, waiter):\n"
                   "        yield env.timeout(self.seconds)\n"
                   "        if not answer.triggered:\n"
                   "            waiter.interrupt('timeout')\n\n"
                   "    def wrap(self, run, caller, target, call):\n"
                   "        env = run.env\n\n"
                   "        def with_timeout(ctx):\n"
                   "            answer = env.process(call(ctx))\n"
                   "            env.process(self._watchdog(env, answer, env.active_process))\n"
                   "            try:\n"
                   "                return (yield answer)\n"
                   "            except simpy.Interrupt:\n"
                   "                return Outcome.TIMEOUT\n\n"
                   "        return with_timeout\n",
        "cell-10": _choose("    k = math.floor(budget * len(samples) + 1e-9)\n"
                           "    return heapq.nlargest(k + 1, samples)[-1]\n", "import heapq\n\n"),
    },
    "timer-first-and-processed": {
        "cell-04": _policy("            timer = env.timeout(self.seconds)\n"
                           "            answer = env.process(call(ctx))\n"
                           "            yield timer | answer\n"
                           "            if answer.processed:\n"
                           "                return answer.value\n"
                           "            return Outcome.TIMEOUT\n"),
        "cell-10": _choose("    return float(np.quantile(samples, 1 - budget, method='inverted_cdf'))\n",
                           "import numpy as np\n\n"),
    },
    "by-definition-with-ties": {
        "cell-04": _policy("            result = yield env.process(call(ctx)) | env.timeout(self.seconds, value='late')\n"
                           "            values = list(result.values())\n"
                           "            return Outcome.TIMEOUT if values == ['late'] else values[0]\n"),
        "cell-10": _choose("    allowed = math.floor(budget * len(samples) + 1e-9)\n"
                           "    for t in sorted(set(float(s) for s in samples)):\n"
                           "        if sum(1 for s in samples if s > t) <= allowed:\n"
                           "            return t\n"),
    },
    "numpy-array-in-exact-fractions": {
        "cell-10": _choose("    values = sorted(np.asarray(samples, dtype=float).tolist())\n"
                           "    if not values:\n"
                           "        raise ValueError('no samples')\n"
                           "    allowed = math.floor(Fraction(str(budget)) * len(values))\n"
                           "    return values[-1 - allowed]\n",
                           "from fractions import Fraction\n\nimport numpy as np\n\n"),
    },
}

_TIMER_RACE = ("            answer = env.process(call(ctx))\n"
               "            timer = env.timeout(self.seconds)\n"
               "            yield answer | timer\n")

WRONG = {
    # -- the policy -------------------------------------------------------------------------
    "policy-hard-coded-100ms": ({"cell-04": _policy("            answer = env.process(call(ctx))\n"
                                                    "            yield answer | env.timeout(0.1)\n"
                                                    "            return answer.value if answer.triggered "
                                                    "else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-uses-the-lesson-constant": ({"cell-04": _policy(
        "            answer = env.process(call(ctx))\n"
        "            yield answer | env.timeout(lesson.TIMEOUT)\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-asks-the-timer-if-triggered": ({"cell-04": _policy(
        _TIMER_RACE + "            if timer.triggered:\n                return Outcome.TIMEOUT\n"
                      "            return answer.value\n")}, "l2-timeout-policy"),
    "policy-waits-then-checks-elapsed": ({"cell-04": _policy(
        "            started = env.now\n"
        "            outcome = yield from call(ctx)\n"
        "            return Outcome.TIMEOUT if env.now - started > self.seconds else outcome\n")},
        "l2-timeout-policy"),
    "policy-errors-become-timeouts": ({"cell-04": _policy(
        _TIMER_RACE + "            if answer.triggered and answer.value == Outcome.OK:\n"
                      "                return Outcome.OK\n"
                      "            return Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-other-answers-become-timeouts": ({"cell-04": _policy(
        _TIMER_RACE + "            if answer.triggered and answer.value in (Outcome.OK, Outcome.ERROR):\n"
                      "                return answer.value\n"
                      "            return Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-failures-become-errors": ({"cell-04": _policy(
        _TIMER_RACE + "            if not answer.triggered:\n                return Outcome.TIMEOUT\n"
                      "            return Outcome.OK if answer.value == Outcome.OK else Outcome.ERROR\n")},
        "l2-timeout-policy"),
    "policy-non-errors-become-ok": ({"cell-04": _policy(
        _TIMER_RACE + "            if not answer.triggered:\n                return Outcome.TIMEOUT\n"
                      "            return Outcome.ERROR if answer.value == Outcome.ERROR else Outcome.OK\n")},
        "l2-timeout-policy"),
    "policy-always-waits-for-the-timer": ({"cell-04": _policy(
        "            answer = env.process(call(ctx))\n"
        "            yield env.timeout(self.seconds)\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-one-timer-per-route": ({"cell-04": _policy(
        "            answer = env.process(call(ctx))\n"
        "            yield answer | timer\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n",
        before="        timer = env.timeout(self.seconds)\n")}, "l2-timeout-policy"),
    "policy-timer-in-milliseconds": ({"cell-04": _policy(
        "            answer = env.process(call(ctx))\n"
        "            yield answer | env.timeout(self.seconds * 1000)\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-timeout-reported-as-error": ({"cell-04": _policy(
        _TIMER_RACE + "            return answer.value if answer.triggered else Outcome.ERROR\n")},
        "l2-timeout-policy"),
    "policy-never-below-50ms": ({"cell-04": _policy(
        "            answer = env.process(call(ctx))\n"
        "            yield answer | env.timeout(max(self.seconds, 0.05))  # 'too short is never useful'\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    "policy-process-of-the-function": ({"cell-04": _policy(
        "            answer = env.process(call)\n"
        "            yield answer | env.timeout(self.seconds)\n"
        "            return answer.value if answer.triggered else Outcome.TIMEOUT\n")}, "l2-timeout-policy"),
    # -- choosing a timeout ---------------------------------------------------------------------
    "choose-off-by-one": ({"cell-10": _choose("    values = sorted(samples)\n"
                                              "    allowed = math.floor(budget * len(values) + 1e-9)\n"
                                              "    return values[len(values) - allowed] if allowed else values[-1]\n")},
                          "l2-choose-timeout"),
    "choose-index-from-quantile": ({"cell-10": _choose("    values = sorted(samples)\n"
                                                       "    return values[min(len(values) - 1, "
                                                       "int((1 - budget) * len(values)))]\n")},
                                   "l2-choose-timeout"),
    "choose-interpolated-percentile": ({"cell-10": _choose("    return float(np.percentile(samples, 100 * (1 - budget)))\n",
                                                           "import numpy as np\n\n")}, "l2-choose-timeout"),
    "choose-interpolates-between-whole-counts": ({"cell-10": _choose(
        "    allowed = math.floor(budget * len(samples) + 1e-9)\n"
        "    return float(np.percentile(samples, 100 * (1 - allowed / len(samples))))\n",
        "import numpy as np\n\n")}, "l2-choose-timeout"),
    "choose-quantile-lower": ({"cell-10": _choose("    return float(np.quantile(samples, 1 - budget, method='lower'))\n",
                                                  "import numpy as np\n\n")}, "l2-choose-timeout"),
    "choose-exactly-k-above": ({"cell-10": _choose("    allowed = math.floor(budget * len(samples) + 1e-9)\n"
                                                   "    for t in sorted(samples):\n"
                                                   "        if sum(s > t for s in samples) == allowed:\n"
                                                   "            return t\n"
                                                   "    return max(samples)\n")}, "l2-choose-timeout"),
    "choose-distinct-values": ({"cell-10": _choose("    values = sorted(set(samples))\n"
                                                   "    allowed = math.floor(budget * len(values) + 1e-9)\n"
                                                   "    return values[len(values) - 1 - allowed]\n")},
                               "l2-choose-timeout"),
    "choose-forgets-to-sort": ({"cell-10": _choose("    values = list(samples)\n"
                                                   "    allowed = math.floor(budget * len(values) + 1e-9)\n"
                                                   "    return values[len(values) - 1 - allowed]\n")},
                               "l2-choose-timeout"),
    "choose-rounds-the-allowance": ({"cell-10": _choose("    values = sorted(samples)\n"
                                                        "    return values[len(values) - 1 - round(budget * len(values))]\n")},
                                    "l2-choose-timeout"),
    "choose-equal-counts-as-exceeding": ({"cell-10": _choose("    allowed = math.floor(budget * len(samples) + 1e-9)\n"
                                                             "    return min(t for t in samples\n"
                                                             "               if sum(s >= t for s in samples) <= allowed)\n")},
                                         "l2-choose-timeout"),
    "choose-p99-whatever-the-budget": ({"cell-10": _choose("    values = sorted(samples)\n"
                                                           "    return values[len(values) - 1 - math.floor(0.01 * len(values))]\n")},
                                       "l2-choose-timeout"),
    "choose-truth-of-an-array": ({"cell-10": _choose("    if not samples:\n"
                                                     "        raise ValueError('no samples')\n"
                                                     "    values = sorted(samples)\n"
                                                     "    return values[len(values) - 1 - math.floor(budget * len(values) + 1e-9)]\n")},
                                 "l2-choose-timeout"),
}
