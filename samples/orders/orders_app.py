"""Orders: an async service whose database pool, SQS client and pricing client are made in INIT.

Four inits start at import, concurrently, on lambda-warmup's warm loop, and live as long as the
execution environment (the code after each ``yield`` closes what it opened, at shutdown):

- ``db``: an asyncpg pool to ``DATABASE_URL``, and the schema, created if missing;
- ``queue``: an aiobotocore SQS client, and the URL of the orders queue (``ORDERS_QUEUE_URL``,
  as the template sets it; without it, the queue ``ORDERS_QUEUE_NAME``, made if missing);
- ``settings``: the pricing API's URL (SSM parameter ``API_URL_PARAMETER``) and token (Secrets
  Manager secret ``API_TOKEN_SECRET``), read concurrently with aiobotocore;
- ``pricing``: awaits ``settings`` and opens one ``httpx.AsyncClient`` with them.

The handler runs on the same loop, so it uses the pool and the clients as INIT left them: no
connection is opened per request. It prices the items concurrently, stores the order in one
transaction, then publishes it to SQS (after the commit: a message never names an order that was
rolled back). SnapStart: sockets in the snapshot are dead after a restore, so the pool's
connections are replaced (``db.after_restore``).

Events: ``{"customer": "ada", "items": [{"sku": "SKU-000042", "quantity": 2}]}`` places an
order; ``{"order_id": 1}`` reads one back. Both answers carry ``backend_pid``, the PostgreSQL
server process of the connection used: the same one, invocation after invocation. An event may
carry the caller's ``correlation_id``, which every log line of its invocation then carries.

Powertools for AWS Lambda logs and measures it, as in the quotes samples: ``Logger`` (JSON lines,
service ``POWERTOOLS_SERVICE_NAME``) and ``Metrics`` (EMF, namespace
``POWERTOOLS_METRICS_NAMESPACE``; ``OrdersStored``, ``OrdersRejected``, ``OrdersRead``,
``OrdersNotFound``, and ``ColdStart`` once), their decorators above ``@warm_handler``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import get_session  # type: ignore[import-untyped]
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from lambda_warmup import warm_handler, warm_init

logger = Logger()
metrics = Metrics()

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer text NOT NULL,
    total numeric(12, 2) NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS order_items (
    order_id bigint NOT NULL REFERENCES orders (id),
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(12, 2) NOT NULL,
    PRIMARY KEY (order_id, sku)
);
"""

# One aiobotocore session for the AWS clients, which give up quickly: INIT has a budget.
aws = get_session()
AWS_CONFIG = AioConfig(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})


@warm_init(timeout=10.0, retries=2)
async def db() -> AsyncIterator[asyncpg.Pool]:
    # One request at a time per execution environment: one connection is all it needs.
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=1, max_size=1, command_timeout=5
    ) as pool:
        async with pool.acquire() as conn, conn.transaction():
            # Environments starting together would race on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('orders schema'))")
            await conn.execute(SCHEMA)
        yield pool


@db.after_restore
async def _reconnect(pool: asyncpg.Pool) -> None:
    # SnapStart: the snapshot's connections are dead; each is replaced at its next acquire.
    await pool.expire_connections()


@dataclass(frozen=True)
class Queue:
    client: Any  # aiobotocore's SQS client
    url: str


@warm_init(timeout=10.0, retries=2)
async def queue() -> AsyncIterator[Queue]:
    async with aws.create_client("sqs", config=AWS_CONFIG) as sqs:
        url = os.environ.get("ORDERS_QUEUE_URL")
        if url:
            # A wrong queue fails INIT, not the first order; and the first order finds the
            # client's connection open (its first call here costs ~60 ms more than the next).
            await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        else:
            name = os.environ.get("ORDERS_QUEUE_NAME", "orders")
            url = (await sqs.create_queue(QueueName=name))["QueueUrl"]
        yield Queue(sqs, str(url))


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_token: str


@warm_init(timeout=10.0, retries=2)
async def settings() -> Settings:
    async with (
        aws.create_client("ssm", config=AWS_CONFIG) as ssm,
        aws.create_client("secretsmanager", config=AWS_CONFIG) as secrets,
    ):
        parameter, secret = await asyncio.gather(
            ssm.get_parameter(Name=os.environ["API_URL_PARAMETER"]),
            secrets.get_secret_value(SecretId=os.environ["API_TOKEN_SECRET"]),
        )
    return Settings(str(parameter["Parameter"]["Value"]), str(secret["SecretString"]))


# The timeout counts from the init's start: waiting for settings is part of it.
@warm_init(timeout=15.0)
async def pricing() -> AsyncIterator[httpx.AsyncClient]:
    cfg = await settings
    async with httpx.AsyncClient(
        base_url=cfg.api_url,
        headers={"Authorization": f"Bearer {cfg.api_token}"},
        timeout=httpx.Timeout(3.0, connect=1.0),
    ) as client:
        yield client


@dataclass(frozen=True)
class Item:
    sku: str
    quantity: int


def _items(event: dict[str, Any]) -> tuple[str, list[Item]]:
    customer, items = event.get("customer"), event.get("items")
    if not isinstance(customer, str) or not customer or not isinstance(items, list) or not items:
        raise ValueError('expected {"customer": "<name>", "items": [{"sku": ..., "quantity": n}]}')
    parsed = []
    for item in items:
        fields = item if isinstance(item, dict) else {}
        sku, quantity = fields.get("sku"), fields.get("quantity", 1)
        if not isinstance(sku, str) or type(quantity) is not int or quantity < 1:
            raise ValueError(f"bad item {item!r}: expected a sku and a whole quantity above 0")
        parsed.append(Item(sku, quantity))
    if len({item.sku for item in parsed}) != len(parsed):
        raise ValueError("each sku may appear once in an order")
    return customer, parsed


async def _price(client: httpx.AsyncClient, item: Item) -> tuple[Decimal, str]:
    response = await client.get(f"/prices/{item.sku}", params={"quantity": item.quantity})
    response.raise_for_status()
    price = response.json()
    return Decimal(str(price["unit"])), str(price["currency"])


async def place_order(event: dict[str, Any]) -> dict[str, Any]:
    customer, items = _items(event)
    prices = await asyncio.gather(*(_price(pricing.value, item) for item in items))
    currencies = {currency for _, currency in prices}
    if len(currencies) != 1:
        raise ValueError(f"the items are priced in several currencies: {sorted(currencies)}")
    currency = currencies.pop()
    units = [unit for unit, _ in prices]
    total = sum((unit * item.quantity for item, unit in zip(items, units, strict=True)), Decimal(0))
    async with db.value.acquire() as conn, conn.transaction():
        order_id, pid = await conn.fetchrow(
            "INSERT INTO orders (customer, total, currency) VALUES ($1, $2, $3)"
            " RETURNING id, pg_backend_pid()",
            customer,
            total,
            currency,
        )
        await conn.executemany(
            "INSERT INTO order_items (order_id, sku, quantity, unit_price) VALUES ($1, $2, $3, $4)",
            [(order_id, i.sku, i.quantity, unit) for i, unit in zip(items, units, strict=True)],
        )
    # Published after the commit: a message never names an order that was rolled back.
    order = {"order_id": order_id, "customer": customer, "total": str(total), "currency": currency}
    await queue.value.client.send_message(QueueUrl=queue.value.url, MessageBody=json.dumps(order))
    return {**order, "backend_pid": pid}


async def read_order(order_id: object) -> dict[str, Any]:
    if type(order_id) is not int:
        raise ValueError(f"order_id {order_id!r} is not a whole number")
    async with db.value.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT customer, total, currency, pg_backend_pid() AS pid FROM orders WHERE id = $1",
            order_id,
        )
        if row is None:
            raise LookupError(f"no order {order_id}")
        items = await conn.fetch(
            "SELECT sku, quantity, unit_price FROM order_items WHERE order_id = $1 ORDER BY sku",
            order_id,
        )
    return {
        "order_id": order_id,
        "customer": row["customer"],
        "total": str(row["total"]),
        "currency": row["currency"],
        "items": [
            {"sku": i["sku"], "quantity": i["quantity"], "unit_price": str(i["unit_price"])}
            for i in items
        ],
        "backend_pid": row["pid"],
    }


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@warm_handler
async def orders(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Places the order in ``event``, or reads back ``event["order_id"]``."""
    if "order_id" in event:
        try:
            order = await read_order(event["order_id"])
        except LookupError:
            metrics.add_metric(name="OrdersNotFound", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="OrdersRead", unit=MetricUnit.Count, value=1)
        logger.info("order read", extra={"order_id": order["order_id"]})
        return order
    try:
        order = await place_order(event)
    except ValueError as error:  # the caller's mistake: counted, and answered as an error
        metrics.add_metric(name="OrdersRejected", unit=MetricUnit.Count, value=1)
        logger.warning("order rejected", extra={"reason": str(error)})
        raise
    metrics.add_metric(name="OrdersStored", unit=MetricUnit.Count, value=1)
    logger.info(
        "order stored",
        extra={
            "order_id": order["order_id"],
            "customer": order["customer"],
            "total": order["total"],
            "currency": order["currency"],
            "items": len(event["items"]),
        },
    )
    return order


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda's entry point (``orders_app.handler``): ``orders``, plus what this invocation found
    on arrival: the inits still pending then, which it had to wait for. The demo prints it."""
    inits = (db, queue, settings, pricing)
    pending = [init.name for init in inits if not init.done()]
    response: dict[str, Any] = orders(event, context)  # Powertools types it Any
    response["arrival"] = {"inits": [init.name for init in inits], "pending_inits": pending}
    return response
