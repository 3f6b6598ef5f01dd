"""A function using lambda_warmup: one init that takes INIT_STEPS x 10 ms of loop time.

The init sleeps in small steps, not once: while the sandbox is frozen no step runs, and after a
thaw only the one overdue step fires at once, so the remaining work shows as remaining time.
"""

import os
import platform
import time
from typing import Any

import anyio

from lambda_warmup import warm_handler, warm_init

STEPS = int(os.environ.get("INIT_STEPS", "50"))


@warm_init
async def slow() -> dict[str, float]:
    started = time.time()
    for _ in range(STEPS):
        await anyio.sleep(0.01)
    return {"started_at": started, "finished_at": time.time()}


@warm_handler
def _after_inits(event: Any, context: Any) -> dict[str, float]:
    return slow.value


def handler(event: Any, context: Any) -> Any:
    entered = time.time()
    done_on_entry = slow.done()
    value = _after_inits(event, context)
    return {
        "done_on_entry": done_on_entry,
        "entered_at": entered,
        "python": platform.python_version(),
        **value,
    }
