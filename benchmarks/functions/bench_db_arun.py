"""Database (b): what Python users do today with an async driver. A plain ``def`` handler runs
``asyncio.run`` per invocation, which opens an asyncpg connection, queries and closes it: a
connection (like a pool) is bound to its event loop, and each ``asyncio.run`` makes a new loop
and closes it at the end, so nothing can be kept from one invocation to the next."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from bench_db import SELECT_ASYNCPG, URL, answer, key


async def _lookup(item: int) -> Any:
    connection = await asyncpg.connect(URL)
    try:
        return await connection.fetchrow(SELECT_ASYNCPG, item)
    finally:
        await connection.close()


def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    row = asyncio.run(_lookup(key(event)))
    return answer(row, started)
