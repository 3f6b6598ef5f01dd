"""``BENCH_INITS`` trivial inits (each yields to the loop once): how INIT and the report grow."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from lambda_warmup import default_warmup, warm_handler, warm_init


def _make(index: int) -> Callable[[], Awaitable[int]]:
    async def init() -> int:
        await asyncio.sleep(0)  # yields to the loop once
        return index

    return init


for _index in range(int(os.environ.get("BENCH_INITS", "1"))):
    warm_init(name=f"init{_index:03d}")(_make(_index))


@warm_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    report = default_warmup._report  # the report as built (private: read by this benchmark only)
    body = json.dumps(report, separators=(",", ":")).encode() if report else b""
    try:  # what goes on the wire: over 64 KiB the library cuts the list of inits
        from lambda_warmup._report import encode_report

        sent = len(encode_report(report)) if report else 0
    except ImportError:  # a library without the cut
        sent = len(body)
    handles = default_warmup.handles
    return {
        "report_bytes": len(body),
        "sent_bytes": sent,
        "inits": len(handles),
        "settled_at": max(h.finished_at or 0.0 for h in handles),
    }
