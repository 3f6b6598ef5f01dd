"""The function with README.md's after-restore recipes (SnapStart): the httpx client on a
transport of its own, whose connections a hook closes after each restore; the aiobotocore client
of ``common`` as it is (botocore retries a call whose connection died)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx

from lambda_warmup import warm_handler, warm_init

from .common import API_URL, greet, serve

transport = httpx.AsyncHTTPTransport()  # yours, so that a hook can reach its connections


@warm_init
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=API_URL, transport=transport) as client:
        yield client


@api.after_restore
async def _fresh_connections(client: httpx.AsyncClient) -> None:
    await transport.aclose()  # closes the snapshot's connections; the next request opens one


@warm_init
async def hello() -> dict[str, Any]:
    return await greet(await api)


@warm_handler
async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await serve(api.value, event)
