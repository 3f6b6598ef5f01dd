"""Quotes, sync: the same service with a plain ``def`` handler and ``def`` inits.

For code that is not async: each ``def`` init runs in lambda-warmup's worker threads, starting at
import, and a ``def`` init reads another's value with ``result()``. ``@warm_handler`` on a ``def``
handler waits for the inits (bounded by the invocation's remaining time) and then calls it on the
runtime's thread, as Lambda would. Powertools' ``Logger`` and ``Metrics`` as in ``quotes_async``.

Event: ``{"query": "oak chair", "quantity": 2}``.
"""

from __future__ import annotations

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
def api() -> httpx.Client:
    cfg = settings.result()  # blocks this worker thread until settings is done
    return httpx.Client(
        base_url=cfg.api_url,
        headers={"Authorization": f"Bearer {cfg.api_token}"},
        timeout=httpx.Timeout(3.0, connect=1.0),
    )


@warm_init
def catalog() -> Catalog:
    return build_catalog()


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@warm_handler
def quote(event: dict[str, object], context: object) -> dict[str, object]:
    """The best rated products matching ``query``, each priced by the quotes API."""
    query, quantity = event.get("query", "chair"), event.get("quantity", 1)
    if not isinstance(query, str) or not isinstance(quantity, int):
        raise ValueError('expected {"query": "<words>", "quantity": <whole number>}')
    quotes = []
    for product in catalog.value.search(query):
        response = api.value.get(f"/prices/{product['sku']}", params={"quantity": quantity})
        response.raise_for_status()
        quotes.append({**product, "price": response.json()})
    metrics.add_metric(name="QuotesServed", unit=MetricUnit.Count, value=len(quotes))
    logger.info(
        "quoted", extra={"query": query, "quantity": quantity, "skus": [q["sku"] for q in quotes]}
    )
    return {"query": query, "quantity": quantity, "quotes": quotes}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """Lambda's entry point (``quotes_sync.handler``): ``quote``, plus what this invocation found
    on arrival: the inits still pending then, which it had to wait for. The demo prints it."""
    inits = (settings, api, catalog)
    pending = [init.name for init in inits if not init.done()]
    response: dict[str, object] = quote(event, context)  # Powertools types it Any
    response["arrival"] = {"inits": [init.name for init in inits], "pending_inits": pending}
    return response
