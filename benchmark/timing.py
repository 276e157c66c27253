"""How a case hands its timings to pytest-benchmark, at each run level (see ``settings``)."""

import time

from .settings import LEVEL

QUICK_BUDGET_SECONDS = 0.5
QUICK_ROUNDS = (5, 200)


def measure(benchmark, function):
    """Time ``function`` with pytest-benchmark; returns the median in seconds.

    Full runs use pytest-benchmark's own calibration (and its command-line options). Quick runs
    take as many single-call rounds as fit in ``QUICK_BUDGET_SECONDS`` (5 to 200) after one
    warm-up call; tiny runs (the smoke test) one round, only to prove the case runs.
    """
    if LEVEL == "full":
        benchmark(function)
    elif LEVEL == "quick":
        start = time.perf_counter()
        function()  # the warm-up call also sizes the number of rounds
        once = max(time.perf_counter() - start, 1e-6)
        rounds = int(min(max(QUICK_BUDGET_SECONDS / once, QUICK_ROUNDS[0]), QUICK_ROUNDS[1]))
        benchmark.pedantic(function, rounds=rounds, iterations=1, warmup_rounds=0)
    else:
        benchmark.pedantic(function, rounds=1, iterations=1, warmup_rounds=0)
    return benchmark.stats.stats.median if benchmark.stats else float("nan")


def record_times(benchmark, seconds):
    """Make pytest-benchmark's statistics exactly ``seconds``, one round per measured repetition.

    For times measured elsewhere (in worker processes). pytest-benchmark times a callable with its
    timer; so the callable advances a virtual clock by the next measured time, and that clock is
    the timer of this one benchmark: each round reads exactly one measured duration.
    """
    clock = {"now": 0.0, "next": iter(seconds)}

    def replay():
        clock["now"] += next(clock["next"])

    benchmark._timer = lambda: clock["now"]  # this fixture only; pytest-benchmark has no public hook for it
    benchmark.pedantic(replay, rounds=len(seconds), iterations=1, warmup_rounds=0)


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
