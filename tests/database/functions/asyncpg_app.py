"""A function a user would write with asyncpg: a pool made in INIT, used by every invocation.

Environment: ``DATABASE_URL``; ``CONNECT_TIMEOUT_S`` (each connection attempt; default 5).
The event's ``hold_s``: how long the request keeps its connection (its own work). The answer:
the server process that ran the query (``backend_pid``), the attempts it took, this process.

- INIT opens the pool (``min_size=2``, each connection named ``asyncpg-app`` in
  ``pg_stat_activity``), with the library's retries for a database still starting; the pool is
  closed at SHUTDOWN (the code after ``yield``).
- After the database restarted (or failed over) while the function was frozen: the pool
  replaces a connection once it has closed, and it closes when the warm loop reads the server's
  goodbye after the thaw. A request can get there first, and asyncpg has no check before it
  hands a connection out, so the handler retries once, on new connections.
- SnapStart: the README's after-restore recipe for asyncpg (``pool.expire_connections()``).
"""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from lambda_warmup import warm_handler, warm_init

APPLICATION_NAME = "asyncpg-app"


@warm_init(retries=2, backoff=0.2)
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=2,
        max_size=2,
        timeout=float(os.environ.get("CONNECT_TIMEOUT_S", "5")),
        server_settings={"application_name": APPLICATION_NAME},
    ) as pool:
        yield pool
    print("asyncpg pool closed", flush=True)


@pool.after_restore
async def _new_connections(pool: asyncpg.Pool) -> None:
    await pool.expire_connections()  # each is replaced by a new one at its next acquire


#: What a query raises on a connection the server ended while the function was frozen (a restart,
#: a failover), depending on how much of the server's goodbye the warm loop read since the thaw:
#: ``ConnectionDoesNotExistError``, ``InterfaceError: ... connection is closed``, or
#: ``InternalClientError: cannot switch to state ...`` (asyncpg issue 1069).
CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    for attempt in (1, 2):
        try:
            async with pool.value.acquire() as connection:
                backend_pid = await connection.fetchval("SELECT pg_backend_pid()")
                await asyncio.sleep(event.get("hold_s", 0))  # the request's own work on it
            break
        except CONNECTION_LOST:
            if attempt == 2:
                raise
            await pool.value.expire_connections()  # the others are dead too: replace them all
    return {
        "backend_pid": backend_pid,
        "attempts": attempt,
        "pid": os.getpid(),
        "query_ms": (time.perf_counter() - started) * 1000,
    }
