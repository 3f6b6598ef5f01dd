"""Per-invocation cost: one module, one handler per variant (the sandbox picks one by name).

Empty handlers (the bare ``def`` is ``bench_bare.handler``): ``@warm_handler`` on a ``def`` and
on an ``async def``; ``asyncio.run`` per invocation (what Powertools' ``resolve_async`` and
Mangum 0.20 do).
One HTTP GET to the local server: ``asyncio.run`` with an ``httpx.AsyncClient`` made per
invocation (a loop-bound client cannot outlive its loop), vs the client made once in a
``@warm_init`` and used by an async ``@warm_handler``; and a sync ``httpx.Client`` made at import
for scale.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from lambda_warmup import warm_handler, warm_init

URL = f"http://{os.environ['BENCH_SERVER']}/delay/0"


@warm_handler
def warm_sync_empty(event: Any, context: Any) -> Any:
    return None


@warm_handler
async def warm_async_empty(event: Any, context: Any) -> Any:
    return None


async def _empty() -> None:
    return None


def arun_empty(event: Any, context: Any) -> Any:
    return asyncio.run(_empty())


async def _get_with_new_client() -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(URL)).status_code


def arun_http(event: Any, context: Any) -> int:
    return asyncio.run(_get_with_new_client())


@warm_init
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as made:
        yield made


@warm_handler
async def warm_async_http(event: Any, context: Any) -> int:
    return (await client.value.get(URL)).status_code


_sync_client = httpx.Client()


def bare_sync_http(event: Any, context: Any) -> int:
    return _sync_client.get(URL).status_code
