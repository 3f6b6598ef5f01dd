"""The ASGI table's app (FastAPI), served by both adapters: a lifespan that opens an asyncpg pool
to ``BENCH_DATABASE_URL`` (one connection: one request at a time per sandbox), a trivial route
and a route with one query through that pool (a primary-key lookup in the database table's
``items``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException, Request

SELECT = "SELECT id, name, price_cents FROM items WHERE id = $1"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    async with asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=1, max_size=1
    ) as pool:
        yield {"pool": pool}


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


@app.get("/items/{item_id}")
async def item(item_id: int, request: Request) -> dict[str, Any]:
    row = await request.state.pool.fetchrow(SELECT, item_id)
    if row is None:
        raise HTTPException(404, f"no item {item_id}")
    return {"id": row["id"], "name": row["name"], "price_cents": row["price_cents"]}
