"""The bench workers' stopping rule (dev/bench/worker/src/main.rs has the same), shared
by the Python workers: enough runs, and the median no longer moves by more than 1 % (or the time
budget is spent)."""


def median(t):
    return sorted(t)[len(t) // 2] if t else 0.0


def done(t, elapsed, min_runs, budget):
    if len(t) < max(min_runs, 3):
        return False
    now, before = median(t), median(t[:-2])
    return abs(now - before) <= 0.01 * now or elapsed > budget or len(t) >= 500
