"""Design (b): ``asyncio.run(asyncio.gather(...))`` at import: the inits overlap each other,
but not the import, and the loop is gone once INIT ends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import bench_heavy
from bench_wire import get_async, path


async def _config_then_api() -> tuple[bytes, bytes]:
    config, _ = await get_async(path("config"))
    api, _ = await get_async(path("api"))
    return config, api


async def _all() -> tuple[tuple[bytes, bytes], tuple[bytes, float]]:
    pair, catalog = await asyncio.gather(_config_then_api(), get_async(path("catalog")))
    return pair, catalog


_started = time.perf_counter()
(config, api), (catalog, _) = asyncio.run(_all())
INITS_S = time.perf_counter() - _started


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"import_s": bench_heavy.IMPORT_S, "inits_s": INITS_S}
