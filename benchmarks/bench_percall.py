"""``python benchmarks/bench_percall.py N``: ns per call of an empty handler, wrapped each way,
called in-process N times (no runtime, no sandbox: the wrapping's own cost), then one at a time
after a short idle. Prints JSON."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from lambda_warmup import Warmup

IDLE_S = 0.02


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _bare(event: Any, context: Any) -> None:
    return None


async def _empty() -> None:
    return None


def _arun(event: Any, context: Any) -> None:
    asyncio.run(_empty())


def _measure_idle(func: Callable[[Any, Any], Any], calls: int, idle_s: float) -> float:
    """Median ns of single calls, each after ``idle_s`` of sleep (threads idle, caches cooled,
    as between two Lambda invocations)."""
    context = _Context()
    samples = []
    for _ in range(calls):
        time.sleep(idle_s)
        started = time.perf_counter_ns()
        func({}, context)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples)


def _measure(func: Callable[[Any, Any], Any], calls: int) -> float:
    """Median over 5 batches of ``calls``, ns per call."""
    context = _Context()
    batches = []
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(calls):
            func({}, context)
        batches.append((time.perf_counter_ns() - started) / calls)
    return statistics.median(batches)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    warmup = Warmup()

    @warmup.init
    async def ready() -> int:
        return 1

    ready.result(5)

    @warmup.handler
    def warm_sync(event: Any, context: Any) -> None:
        return None

    @warmup.handler
    async def warm_async(event: Any, context: Any) -> None:
        return None

    variants: dict[str, Callable[[Any, Any], Any]] = {
        "bare": _bare,
        "warm_sync": warm_sync,
        "warm_async": warm_async,
        "arun": _arun,
    }
    for func in variants.values():  # warm-up
        _measure(func, 20)
    result = {name: _measure(func, calls) for name, func in variants.items()}
    idle_calls = max(5, min(40, calls // 50))
    for name, func in variants.items():
        result[f"{name}_after_idle"] = _measure_idle(func, idle_calls, IDLE_S)
    warmup.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
