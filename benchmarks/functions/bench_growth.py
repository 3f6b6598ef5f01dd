"""``BENCH_INITS`` trivial inits (each yields to the loop once): how INIT and the report grow."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.lowlevel

from lambda_warmup import default_warmup, warm_handler, warm_init


def _make(index: int) -> Callable[[], Awaitable[int]]:
    async def init() -> int:
        await anyio.lowlevel.checkpoint()
        return index

    return init


for _index in range(int(os.environ.get("BENCH_INITS", "1"))):
    warm_init(name=f"init{_index:03d}")(_make(_index))


@warm_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    report = default_warmup.report
    body = json.dumps(report, separators=(",", ":")).encode() if report else b""
    handles = default_warmup.handles
    return {
        "report_bytes": len(body),
        "inits": len(handles),
        "settled_at": max(h.finished_at or 0.0 for h in handles),
    }
