"""A function as a team using Powertools writes it: Logger and Metrics around an async handler,
in either order with ``@warm_handler`` (the sandbox's ``handler`` names which one), and a client
an init made on the warm loop (an ``asyncio.Queue`` standing for a pool bound to its loop)."""

import asyncio
import threading
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_warmup import warm_handler, warm_init

logger = Logger(service="orders")
metrics = Metrics(namespace="Orders", service="orders")


@warm_init
async def connections() -> asyncio.Queue[int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    queue.put_nowait(1)
    return queue


async def charge(event: dict[str, Any]) -> dict[str, Any]:
    connection = await connections.value.get()  # only works on the queue's own loop
    try:
        await asyncio.sleep(0)
        logger.info("charged", extra={"amount": event["amount"]})
        metrics.add_metric(name="OrdersCharged", unit=MetricUnit.Count, value=event["amount"])
        return {"charged": event["amount"], "thread": threading.current_thread().name}
    finally:
        connections.value.put_nowait(connection)


@warm_handler  # the order of issue 16's Runtime.MarshalError: a coroutine was returned
@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
async def warm_on_top(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await charge(event)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@warm_handler
async def powertools_on_top(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await charge(event)
