"""Tiny shared helpers for the benchmarks (no dependencies)."""

from __future__ import annotations

import statistics
import time
from typing import Callable, List


def per_call_ns(fn: Callable[[int], None], n: int, repeat: int = 7) -> float:
    """Median over *repeat* runs of ``fn(n)``'s time, per iteration, in ns."""
    runs: List[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn(n)
        runs.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(runs)


def percentile(values: List[float], pct: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(pct / 100 * (len(values) - 1))))
    return values[k]


def header(title: str) -> None:
    import platform

    print(f"{title}  ({platform.python_implementation()} {platform.python_version()})")
