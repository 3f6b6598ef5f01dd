"""The function without after-restore recipes: an ``httpx.AsyncClient`` here and the
aiobotocore SQS client of ``common``, both made and entered in INIT, used by an async handler."""

from collections.abc import AsyncIterator
from typing import Any

import httpx

from lambda_warmup import warm_handler, warm_init

from .common import API_URL, greet, serve


@warm_init
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=API_URL) as client:
        yield client
    print(f"teardown: httpx client closed: {client.is_closed}", flush=True)


@warm_init
async def hello() -> dict[str, Any]:
    return await greet(await api)


@warm_handler
async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await serve(api.value, event)
