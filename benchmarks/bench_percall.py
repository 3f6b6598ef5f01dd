"""``python benchmarks/bench_percall.py N``: ns per call of an empty handler, wrapped each way,
called in-process (no runtime, no sandbox: the wrapping's own cost). Prints JSON.

- ``hot``: per variant, 9 batches of N calls in a row (batches of all variants interleaved):
  ns per call of each batch, by the wall clock and by the process's CPU time (every thread:
  the warm loop's share of an async call included).
- ``idle``: per variant, single calls, each after ``IDLE_S`` of sleep (threads idle, caches
  cooled, as between two Lambda invocations), variants interleaved call by call: ns of each
  call by the wall clock, and by CPU time up to the end of the next sleep (so that what the
  warm loop still does after handing the result back is counted too; the sleep's own few us of
  CPU are in every variant's figure alike).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from lambda_warmup import Warmup

IDLE_S = 0.02
BATCHES = 9


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _bare(event: Any, context: Any) -> None:
    return None


async def _empty() -> None:
    return None


def _arun(event: Any, context: Any) -> None:
    asyncio.run(_empty())


Handler = Callable[[Any, Any], Any]


def _batch(func: Handler, calls: int) -> tuple[float, float]:
    """ns per call over ``calls`` calls in a row: (wall, CPU)."""
    context = _Context()
    cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
    for _ in range(calls):
        func({}, context)
    wall1, cpu1 = time.perf_counter_ns(), time.process_time_ns()
    return (wall1 - wall0) / calls, (cpu1 - cpu0) / calls


def _after_idle(func: Handler, idle_s: float) -> tuple[float, float]:
    """One call after ``idle_s`` of sleep (the caller slept before): (wall, CPU) ns."""
    context = _Context()
    cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
    func({}, context)
    wall1 = time.perf_counter_ns()
    time.sleep(idle_s)
    return wall1 - wall0, time.process_time_ns() - cpu0


def measure(
    variants: dict[str, Handler], calls: int, idle_calls: int, idle_s: float = IDLE_S
) -> dict[str, dict[str, dict[str, list[float]]]]:
    hot: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in variants}
    for func in variants.values():  # warm-up
        _batch(func, 20)
    for _ in range(BATCHES):
        for name, func in variants.items():
            wall, cpu = _batch(func, calls)
            hot[name]["wall"].append(wall)
            hot[name]["cpu"].append(cpu)
    idle: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in variants}
    time.sleep(idle_s)
    for _ in range(idle_calls):
        for name, func in variants.items():
            wall, cpu = _after_idle(func, idle_s)
            idle[name]["wall"].append(wall)
            idle[name]["cpu"].append(cpu)
    return {"hot": hot, "idle": idle}


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

    variants: dict[str, Handler] = {
        "bare": _bare,
        "warm_sync": warm_sync,
        "warm_async": warm_async,
        "arun": _arun,
    }
    idle_calls = max(5, min(60, calls // 50))
    result = measure(variants, calls, idle_calls)
    warmup.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
