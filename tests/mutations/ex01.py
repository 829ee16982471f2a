"""Exercise 1, predicting a cascade: answers written differently, and mistakes."""

EXERCISE = "01-cascading-failures"

CORRECT = {
    "fractions": {
        "cell-04": "from fractions import Fraction\n\n"
                   "def max_throughput(workers, latency):\n"
                   "    return float(Fraction(workers) / Fraction(str(latency)))",
        "cell-13": "def breaking_latency(workers, arrival_rate):\n"
                   "    from fractions import Fraction\n"
                   "    return float(Fraction(workers, 1) / Fraction(str(arrival_rate)))",
    },
    "numpy": {
        "cell-02": "import math\nimport numpy as np",
        "cell-04": "def max_throughput(workers, latency):\n    return np.float64(workers) / latency",
        "cell-07": "def time_to_fill(workers, arrival_rate, latency):\n"
                   "    in_flight = np.float64(arrival_rate) * latency\n"
                   "    return np.inf if in_flight < workers else np.float64(workers) / arrival_rate",
        "cell-10": "def backlog(workers, arrival_rate, latency, duration):\n"
                   "    return np.maximum(0.0, (arrival_rate - workers / latency) * duration)",
    },
    "one-helper-class": {
        "cell-04": "class Pool:\n"
                   "    def __init__(self, workers, latency):\n"
                   "        self.workers, self.latency = workers, latency\n\n"
                   "    @property\n"
                   "    def ceiling(self):\n"
                   "        return self.workers / self.latency\n\n"
                   "def max_throughput(workers, latency):\n"
                   "    return Pool(workers, latency).ceiling",
        "cell-10": "def backlog(workers, arrival_rate, latency, duration):\n"
                   "    growth = arrival_rate - Pool(workers, latency).ceiling\n"
                   "    return growth * duration if growth > 0 else 0",
    },
    "lambdas-and-partial": {
        "cell-04": "max_throughput = lambda workers, latency: workers * (1 / latency)",
        "cell-07": "import functools\n\n"
                   "def _fill(workers, arrival_rate, latency, never):\n"
                   "    return never if arrival_rate * latency < workers else workers / arrival_rate\n\n"
                   "time_to_fill = functools.partial(_fill, never=float('inf'))",
    },
}

WRONG = {
    "throughput-multiplies": ({"cell-04": "def max_throughput(workers, latency):\n    return workers * latency"},
                              "l1-max-throughput"),
    "throughput-floor-division": ({"cell-04": "def max_throughput(workers, latency):\n    return workers // latency"},
                                  "l1-max-throughput"),
    "throughput-hard-coded": ({"cell-04": "def max_throughput(workers, latency):\n    return 100.0"},
                              "l1-max-throughput"),
    "fill-never-infinite": ({"cell-07": "def time_to_fill(workers, arrival_rate, latency):\n"
                                        "    return workers / arrival_rate"}, "l1-fill-time"),
    "fill-by-completions": ({"cell-07": "def time_to_fill(workers, arrival_rate, latency):\n"
                                        "    net = arrival_rate - workers / latency\n"
                                        "    return workers / net if net > 0 else math.inf"}, "l1-fill-time"),
    "fill-none-for-never": ({"cell-07": "def time_to_fill(workers, arrival_rate, latency):\n"
                                        "    if arrival_rate * latency < workers:\n        return None\n"
                                        "    return workers / arrival_rate"}, "l1-fill-time"),
    "fill-boundary": ({"cell-07": "def time_to_fill(workers, arrival_rate, latency):\n"
                                  "    if arrival_rate * latency <= workers:\n        return math.inf\n"
                                  "    return workers / arrival_rate"}, "l1-fill-time"),
    "backlog-negative": ({"cell-10": "def backlog(workers, arrival_rate, latency, duration):\n"
                                     "    return (arrival_rate - workers / latency) * duration"}, "l1-backlog"),
    "backlog-all-arrivals": ({"cell-10": "def backlog(workers, arrival_rate, latency, duration):\n"
                                         "    return arrival_rate * duration"}, "l1-backlog"),
    "backlog-little-upside-down": ({"cell-10": "def backlog(workers, arrival_rate, latency, duration):\n"
                                               "    return max(0.0, (arrival_rate - workers * latency) * duration)"},
                                   "l1-backlog"),
    "breaking-upside-down": ({"cell-13": "def breaking_latency(workers, arrival_rate):\n"
                                         "    return arrival_rate / workers"}, "l1-breaking-latency"),
    "breaking-hard-coded": ({"cell-13": "def breaking_latency(workers, arrival_rate):\n    return 1 / 3"},
                            "l1-breaking-latency"),
}
