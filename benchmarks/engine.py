"""Engine overhead: resilience-lab's world against a bare SimPy model of the same queue.

The queue: Poisson arrivals at 1,000 per second, one service with a pool of 10
workers, exponential work of mean 8 ms (utilisation 0.8). Built twice:

- **bare**: the few lines of SimPy a textbook would write, keeping a
  ``(start, end)`` record per request, as the world does;
- **world**: ``World`` with the client's calls going through a policy chain,
  metrics on (the pool sampler every 0.1 s, and the run's ``RunResult`` arrays).

Both run ``REQUESTS`` requests in the same process on the same seeds, one after
the other, alternating which goes first; the figure is the median over
``REPEATS`` of the ratio world / bare, in CPU seconds of this process (wall
seconds are reported too; on a machine shared with other work they are noisier).

Chains measured: ``pass-through`` (a ``PassThrough`` policy: the world's own
cost) and ``timeout+breaker+retry`` (the real patterns switched on, none of them
firing: what protection costs when all is well). Target: pass-through at most
1.5 times bare SimPy.
"""

from __future__ import annotations

import random

import simpy

from benchmarks import Stopwatch, median

RATE, WORKERS, MEAN_WORK = 1000.0, 10, 0.008
TARGET = 1.5


def bare(requests: int, seed: int) -> int:
    """The same queue in bare SimPy; returns the number of requests finished."""
    env = simpy.Environment()
    pool = simpy.Resource(env, WORKERS)
    arrivals, work = random.Random(seed), random.Random(seed + 1)
    records = []

    def request():
        start = env.now
        with pool.request() as worker:
            yield worker
            yield env.timeout(work.expovariate(1.0 / MEAN_WORK))
        records.append((start, env.now))

    def load():
        for _ in range(requests):
            yield env.timeout(arrivals.expovariate(RATE))
            env.process(request())

    env.process(load())
    env.run()
    return len(records)


def chain(name: str):
    """The client's policies for a chain name."""
    from resilience_lab.patterns.circuit_breaker import CircuitBreaker
    from resilience_lab.patterns.retry import Retry
    from resilience_lab.patterns.timeout import Timeout
    from resilience_lab.world import PassThrough

    if name == "pass-through":
        return (PassThrough(),)
    if name == "timeout+breaker+retry":
        return (Retry(), CircuitBreaker(), Timeout(1.0))
    raise ValueError(f"unknown chain {name!r}")


def world_run(requests: int, seed: int, chain_name: str) -> int:
    """The same queue as a resilience-lab world; returns the number of calls recorded."""
    from resilience_lab import Exponential, World
    from resilience_lab.world import CLIENT

    world = World(seed=seed, sample_every=0.1)
    world.service("S", workers=WORKERS, latency=Exponential(MEAN_WORK))
    world.load("S", rate=RATE)
    world.protect(CLIENT, "S", *chain(chain_name))
    result = world.run(until=requests / RATE)
    return int(result.calls_to("S", CLIENT).sum())


def compare(requests: int, repeats: int, chain_name: str) -> dict:
    bare(1000, 0)  # warm up: imports and first-call costs stay out of the timings
    world_run(1000, 0, chain_name)
    cpu, wall = [], []
    for i in range(repeats):
        seed = 1 + i
        order = ["bare", "world"] if i % 2 == 0 else ["world", "bare"]
        timings = {}
        for which in order:
            with Stopwatch() as t:
                bare(requests, seed) if which == "bare" else world_run(requests, seed, chain_name)
            timings[which] = t
        cpu.append(timings["world"].cpu / timings["bare"].cpu)
        wall.append(timings["world"].wall / timings["bare"].wall)
    return {
        "chain": chain_name,
        "requests": requests,
        "repeats": repeats,
        "cpu_ratio_median": median(cpu),
        "cpu_ratios": cpu,
        "wall_ratio_median": median(wall),
        "wall_ratios": wall,
    }


def bare_rate(requests: int, repeats: int) -> float:
    """Bare SimPy's requests per CPU second on this machine (median)."""
    rates = []
    for i in range(repeats):
        with Stopwatch() as t:
            bare(requests, 100 + i)
        rates.append(requests / t.cpu)
    return median(rates)


def run(quick: bool = False) -> dict:
    requests, repeats = (20_000, 3) if quick else (100_000, 5)
    results = [compare(requests, repeats, name) for name in ("pass-through", "timeout+breaker+retry")]
    speed = bare_rate(requests // 2, 3)
    lines = [
        f"{requests:,} requests through one pool of {WORKERS} workers (utilisation 0.8), "
        f"median of {repeats} paired runs, CPU-time ratio world / bare SimPy (wall-time ratio in brackets):",
        "",
    ]
    for r in results:
        verdict = ""
        if r["chain"] == "pass-through":
            verdict = " (target <= 1.5: " + ("met)" if r["cpu_ratio_median"] <= TARGET else "MISSED)")
        lines.append(f"- {r['chain']}: {r['cpu_ratio_median']:.2f}x ({r['wall_ratio_median']:.2f}x){verdict}")
    lines += ["", f"Bare SimPy here: {speed:,.0f} single-hop requests per CPU second."]
    return {"title": "Engine overhead against bare SimPy", "lines": lines, "chains": results,
            "bare_requests_per_cpu_second": speed}
