"""Database (a): lambda-warmup. An asyncpg pool opened by a ``@warm_init`` during INIT, on the
warm loop that lives as long as the sandbox; an async ``@warm_handler`` queries through it on
that same loop (an asyncpg pool is bound to the loop it was made on)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from bench_db import SELECT_ASYNCPG, URL, answer, key

from lambda_warmup import warm_handler, warm_init


@warm_init
async def pool() -> AsyncIterator[asyncpg.Pool]:
    # One invocation at a time per sandbox: one connection is all a function needs.
    async with asyncpg.create_pool(URL, min_size=1, max_size=1) as made:
        yield made


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    async with pool.value.acquire() as connection:  # what pool.fetchrow() does
        row = await connection.fetchrow(SELECT_ASYNCPG, key(event))
        queried = time.perf_counter()
    # The pool's release: asyncpg resets the connection (a query, one more round trip).
    return {**answer(row, started), "release_ms": (time.perf_counter() - queried) * 1000}
