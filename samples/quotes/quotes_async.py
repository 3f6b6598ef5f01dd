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

Observability is the function's own, with Powertools for AWS Lambda: ``Logger`` writes one JSON
line per record (service from ``POWERTOOLS_SERVICE_NAME``; the invocation's request id and cold
start flag from ``inject_lambda_context``), ``Metrics`` prints CloudWatch EMF (namespace from
``POWERTOOLS_METRICS_NAMESPACE``): ``QuotesServed`` per invocation, ``ColdStart`` once. Their
decorators go above ``@warm_handler``. Powertools is a dependency of the function (its
``requirements.txt``), not of lambda-warmup's layer; its import adds ~17 ms to the module's.

Event: ``{"query": "oak chair", "quantity": 2}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from quotes_common import Catalog, Settings, build_catalog, load_settings

from lambda_warmup import warm_handler, warm_init

logger = Logger()
metrics = Metrics()


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


# Powertools' decorators above @warm_handler: they wrap the invocation as Lambda calls it (any
# wait for pending inits included); the body, on the warm loop, logs with the keys they set.
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
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
    metrics.add_metric(name="QuotesServed", unit=MetricUnit.Count, value=len(quotes))
    logger.info(
        "quoted", extra={"query": query, "quantity": quantity, "skus": [q["sku"] for q in quotes]}
    )
    return {"query": query, "quantity": quantity, "quotes": quotes}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """Lambda's entry point (``quotes_async.handler``): ``quote``, plus what this invocation found
    on arrival: the inits still pending then, which it had to wait for. The demo prints it."""
    inits = (settings, api, catalog)
    pending = [init.name for init in inits if not init.done()]
    response: dict[str, object] = quote(event, context)  # Powertools types it Any
    response["arrival"] = {"inits": [init.name for init in inits], "pending_inits": pending}
    return response
