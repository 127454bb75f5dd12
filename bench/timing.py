"""Timing for the benchmarks: interleaved rounds, so a busy machine slows both sides alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(work: Callable[[], object]) -> float:
    """Seconds one call of ``work`` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def interleaved_medians(baseline: Callable[[], object], ours: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Run the two in turn ``rounds`` times; return their median seconds (baseline, ours)."""
    base_times, our_times = [], []
    for _ in range(rounds):
        base_times.append(timed(baseline))
        our_times.append(timed(ours))
    return statistics.median(base_times), statistics.median(our_times)
