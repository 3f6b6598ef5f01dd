"""A Starlette app whose lifespan counts its startups and shutdowns (printed to the function's
log) and yields a resource; ``/count`` tells what the request sees."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

COUNTS = {"startup": 0, "shutdown": 0}


class Resource:
    """Stands for a pool: made by the lifespan's startup, closed by its shutdown."""


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    await anyio.sleep(float(os.environ.get("STARTUP_DELAY_S", "0")))  # e.g. a pool's connect
    COUNTS["startup"] += 1
    print(f"lifespan startup {COUNTS['startup']} in {threading.current_thread().name}", flush=True)
    yield {"resource": Resource()}
    COUNTS["shutdown"] += 1
    print(f"lifespan shutdown {COUNTS['shutdown']}", flush=True)


async def count(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "startups": COUNTS["startup"],
            "shutdowns": COUNTS["shutdown"],
            "pid": os.getpid(),
            "resource": id(request.state.resource),
            "thread": threading.current_thread().name,
        }
    )


app = Starlette(routes=[Route("/count", count)], lifespan=lifespan)
