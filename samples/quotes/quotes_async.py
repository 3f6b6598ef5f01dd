"""Quotes, async: a handler whose AWS settings, HTTP client and catalog are made during INIT.

Three inits start at import, concurrently, on lambda-warmup's warm loop:

- ``settings``, a ``def`` (boto3 blocks, so it runs in a worker thread), reads the quotes API's
  URL from SSM Parameter Store and its token from Secrets Manager;
- ``api`` awaits ``settings`` and opens one ``httpx.AsyncClient`` with them. It lives as long as
  the execution environment; the code after its ``yield`` closes it at shutdown;
- ``catalog`` loads the product catalog beside them (about 1 s of CPU, in a worker thread).

The handler is ``async`` and runs on the same loop, so the client made at INIT is used as is. With
the layer's extension and ``WARMING_TIMEOUT`` set, INIT lasts until the three are done; without,
the first invocation waits for them.

Event: ``{"query": "oak chair", "quantity": 2}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from quotes_common import Catalog, Settings, build_catalog, load_settings

from lambda_warmup import warm_handler, warm_init


@warm_init(timeout=10.0, retries=2)
def settings() -> Settings:
    return load_settings()


# The timeout counts from the init's start: waiting for settings is part of it.
@warm_init(timeout=15.0)
async def api() -> AsyncIterator[httpx.AsyncClient]:
    cfg = await settings  # runs once settings is done; fails if it failed
    async with httpx.AsyncClient(
        base_url=cfg.api_url,
        headers={"Authorization": f"Bearer {cfg.api_token}"},
        timeout=httpx.Timeout(3.0, connect=1.0),
    ) as client:
        yield client


@warm_init
def catalog() -> Catalog:
    return build_catalog()


@warm_handler
async def quote(event: dict[str, object], context: object) -> dict[str, object]:
    """The best rated products matching ``query``, priced by the quotes API concurrently."""
    query, quantity = event.get("query", "chair"), event.get("quantity", 1)
    if not isinstance(query, str) or not isinstance(quantity, int):
        raise ValueError('expected {"query": "<words>", "quantity": <whole number>}')
    client = api.value  # done: warm_handler waited for every required init
    products = catalog.value.search(query)
    responses = await asyncio.gather(
        *(client.get(f"/prices/{p['sku']}", params={"quantity": quantity}) for p in products)
    )
    quotes = []
    for product, response in zip(products, responses, strict=True):
        response.raise_for_status()
        quotes.append({**product, "price": response.json()})
    return {"query": query, "quantity": quantity, "quotes": quotes}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """Lambda's entry point (``quotes_async.handler``): ``quote``, plus what this invocation found
    on arrival: the inits still pending then, which it had to wait for. The demo prints it."""
    inits = (settings, api, catalog)
    pending = [init.name for init in inits if not init.done()]
    response = quote(event, context)
    response["arrival"] = {"inits": [init.name for init in inits], "pending_inits": pending}
    return response
