"""A function for the telemetry test: three inits (one awaits another, one retried once), and a
handler that logs one line of its own through the standard library, as user code would."""

import logging
from typing import Any

import anyio

from lambda_warmup import warm_handler, warm_init

logger = logging.getLogger("telemetry_app")
_calls: list[int] = []


@warm_init
async def config() -> dict[str, str]:
    await anyio.sleep(0.2)
    return {"region": "local"}


@warm_init
async def api() -> str:
    settings = await config
    return f"client for {settings['region']}"


@warm_init(retries=1, backoff=0.05, required=False)
async def flaky() -> int:
    _calls.append(1)
    if len(_calls) == 1:
        raise ConnectionError("throttled")
    return len(_calls)


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.info("handled", extra={"client": api.value})
    logger.debug("a debug line of the handler")
    return {"api": api.value, "flaky": flaky.value}
