"""A function a user would write with psycopg 3: a ``psycopg_pool.AsyncConnectionPool`` made in
INIT, used by every invocation.

Environment: ``DATABASE_URL``; ``CONNECT_TIMEOUT_S`` (how long INIT waits for the pool to be
full; default 5). The event's ``hold_s``: how long the request keeps its connection (its own
work). The answer: the server process that ran the query (``backend_pid``), this process.

- INIT opens the pool (``min_size=2``, each connection named ``psycopg-app`` in
  ``pg_stat_activity``) and waits until it is full, with the library's retries for a database
  still starting; the pool is closed at SHUTDOWN (the code after ``yield``).
- After the database restarted: ``check=AsyncConnectionPool.check_connection`` makes the pool
  try each connection before handing it out (one empty query) and replace a dead one. Without
  it, the first requests after a restart get the dead connections (``OperationalError``). The
  first request after a restart waits ~1 s (psycopg_pool's backoff after two failed checks).
- SnapStart: the README's after-restore recipe for psycopg_pool (``pool.check()``).
"""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool

from lambda_warmup import warm_handler, warm_init

APPLICATION_NAME = "psycopg-app"


@warm_init(retries=2, backoff=0.2)
async def pool() -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        os.environ["DATABASE_URL"],
        min_size=2,
        kwargs={"application_name": APPLICATION_NAME},
        check=AsyncConnectionPool.check_connection,
        open=False,  # opened by `async with`, on the warm loop
    ) as pool:
        await pool.wait(timeout=float(os.environ.get("CONNECT_TIMEOUT_S", "5")))
        yield pool
    print("psycopg pool closed", flush=True)


@pool.after_restore
async def _new_connections(pool: AsyncConnectionPool) -> None:
    await pool.check()  # drops the dead connections; the pool connects new ones


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    async with pool.value.connection() as connection:
        cursor = await connection.execute("SELECT pg_backend_pid()")
        row = await cursor.fetchone()
        await asyncio.sleep(event.get("hold_s", 0))  # the request's own work on the connection
    assert row is not None
    return {
        "backend_pid": row[0],
        "pid": os.getpid(),
        "query_ms": (time.perf_counter() - started) * 1000,
    }
