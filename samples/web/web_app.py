"""Web: a FastAPI app served by ``warm_asgi``, its lifespan run once, inside INIT.

The lifespan opens what every request uses, and ``warm_asgi`` runs it as a warm init at import
(named ``lifespan`` in the report; with the layer's extension and ``WARMING_TIMEOUT``, INIT lasts
until it is done):

- an asyncpg pool to ``DATABASE_URL`` (and its table, created if missing), while
- the prices API's URL (SSM parameter ``API_URL_PARAMETER``) and token (Secrets Manager secret
  ``API_TOKEN_SECRET``) are read with boto3 in a worker thread, then
- one ``httpx.AsyncClient`` for that API.

Both reach the routes as ``request.state`` and live as long as the execution environment: every
request runs on the loop that made them (an asyncpg pool is bound to its loop), so none opens a
connection. At Lambda's SHUTDOWN (SIGTERM) the lifespan's code after ``yield`` closes them. Served
by Mangum instead, this lifespan would run, and the pool be opened and closed, in every
invocation.

Routes: ``GET /prices/{sku}?quantity=N`` prices an item through the API and records the check
in PostgreSQL; ``GET /status`` says which PostgreSQL backend serves this environment and when the
lifespan was ready. Both answer ``backend_pid``: the same one, invocation after invocation.

Powertools' ``Logger`` writes its JSON lines (service ``POWERTOOLS_SERVICE_NAME``, the request
id and cold start flag from ``inject_lambda_context``, the HTTP API's request id as the
correlation id); ``handler`` adds a ``x-lifespan-on-arrival`` header (``ready`` or ``pending``:
what the invocation found when it arrived), which the demo prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI, HTTPException, Query, Request

from lambda_warmup.asgi import warm_asgi

logger = Logger()

SCHEMA = """
CREATE TABLE IF NOT EXISTS price_checks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(12, 2) NOT NULL,
    currency text NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_token: str


def load_settings() -> Settings:
    """The prices API's URL and token from SSM and Secrets Manager. Blocking (boto3): the
    lifespan runs it in a worker thread, beside the pool's connect."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    session = boto3.session.Session()  # one per thread: boto3's default session is not safe
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})
    url = session.client("ssm", config=config).get_parameter(Name=os.environ["API_URL_PARAMETER"])
    secret = session.client("secretsmanager", config=config).get_secret_value(
        SecretId=os.environ["API_TOKEN_SECRET"]
    )
    return Settings(str(url["Parameter"]["Value"]), str(secret["SecretString"]))


#: When the lifespan's startup finished (``time.time()``); None until then.
ready_at: float | None = None


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    global ready_at
    settings = asyncio.ensure_future(asyncio.to_thread(load_settings))
    # One request at a time per execution environment: one connection is all it needs.
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=1, max_size=1, command_timeout=5
    ) as pool:
        async with pool.acquire() as conn, conn.transaction():
            # Environments starting together would race on CREATE TABLE IF NOT EXISTS.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('web schema'))")
            await conn.execute(SCHEMA)
        cfg = await settings
        async with httpx.AsyncClient(
            base_url=cfg.api_url,
            headers={"Authorization": f"Bearer {cfg.api_token}"},
            timeout=httpx.Timeout(3.0, connect=1.0),
        ) as prices:
            ready_at = time.time()
            logger.info("lifespan ready", extra={"pool_size": pool.get_size()})
            yield {"pool": pool, "prices": prices}
            logger.info("lifespan shutting down: closing the pool and the prices client")


app = FastAPI(title="lambda-warmup web sample", lifespan=lifespan)


@app.get("/prices/{sku}")
async def price(request: Request, sku: str, quantity: int = Query(1, ge=1)) -> dict[str, Any]:
    """The API's price of ``quantity`` of ``sku``, recorded as a price check."""
    response = await request.state.prices.get(f"/prices/{sku}", params={"quantity": quantity})
    if response.status_code != 200:
        raise HTTPException(502, f"the prices API answered {response.status_code}")
    quoted = response.json()
    unit, currency = Decimal(str(quoted["unit"])), str(quoted["currency"])
    async with request.state.pool.acquire() as conn:
        check_id, pid = await conn.fetchrow(
            "INSERT INTO price_checks (sku, quantity, unit_price, currency)"
            " VALUES ($1, $2, $3, $4) RETURNING id, pg_backend_pid()",
            sku,
            quantity,
            unit,
            currency,
        )
    logger.info("price checked", extra={"sku": sku, "quantity": quantity, "check_id": check_id})
    return {
        "sku": sku,
        "quantity": quantity,
        "unit": str(unit),
        "total": str(unit * quantity),
        "currency": currency,
        "check_id": check_id,
        "backend_pid": pid,
    }


@app.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """The PostgreSQL backend serving this environment, and when the lifespan was ready."""
    async with request.state.pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    return {"backend_pid": pid, "lifespan_ready_at": ready_at}


serve = warm_asgi(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Lambda's entry point (``web_app.handler``): the app's answer, with what this invocation
    found on arrival (``x-lifespan-on-arrival``: ``ready``, or ``pending`` if it had to wait)."""
    arrival = "ready" if ready_at is not None else "pending"
    response = serve(event, context)
    response.setdefault("headers", {})["x-lifespan-on-arrival"] = arrival
    return response
