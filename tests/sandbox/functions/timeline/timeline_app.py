"""A function for the timeline: two inits, one awaiting the other, and one retried once.

``config`` takes CONFIG_MS; ``client`` awaits it, fails its first attempt (a database still
starting), and succeeds on the retry. The handler returns what it found.
"""

import os
from typing import Any

import anyio

from lambda_warmup import warm_handler, warm_init

CONFIG_S = int(os.environ.get("CONFIG_MS", "150")) / 1000
attempts = 0


@warm_init
async def config() -> dict[str, str]:
    await anyio.sleep(CONFIG_S)
    return {"dsn": "postgres://db.internal/app"}


@warm_init(retries=1, backoff=0.05)
async def client() -> str:
    global attempts
    cfg = await config
    attempts += 1
    await anyio.sleep(0.04)
    if attempts == 1:
        raise ConnectionError("database still starting")
    return f"client for {cfg['dsn']}"


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"client": client.value, "attempts": attempts}
