"""What every benchmark shares: timing loops, percentiles, whole-process wall
time, and the line saying which machine ran it and how loaded it was.

The machine these run on is often shared, so each benchmark compares with a
baseline measured in the same run; the header line records the load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any


def elapsed(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    """Seconds one call of ``fn(*args, **kwargs)`` took."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def timed(fn: Callable[[], object], rounds: int) -> list[float]:
    """Seconds of each of ``rounds`` calls of ``fn``."""
    return [elapsed(fn) for _ in range(rounds)]


async def timed_async(fn: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    """Seconds of each of ``rounds`` awaited calls of ``fn``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return times


def percentile(times: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (0.95: p95) of ``times``, by rank."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for a report."""
    return f"{seconds * 1000:.1f} ms"


def p50_p95(times: Sequence[float]) -> str:
    """``p50 … ms  p95 … ms``, aligned for a table of pages or reports."""
    return (
        f"p50 {statistics.median(times) * 1000:7.1f} ms  "
        f"p95 {percentile(times, 0.95) * 1000:7.1f} ms"
    )


def median_wall(cmd: list[str], env: Mapping[str, str], runs: int) -> float:
    """Median wall time of ``runs`` whole processes of ``cmd`` (each must succeed)."""
    return statistics.median(
        timed(
            lambda: subprocess.run(cmd, env=env, check=True, capture_output=True),
            runs,
        )
    )


def machine(name: str) -> str:
    """The header line of a run: Python, CPUs, load average and time (UTC)."""
    return (
        f"{name}: python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
