"""Designs (c) and (d): lambda-warmup. The inits start at declaration, on the warm loop, and run
while the rest of the module (the heavy import) is imported. With the layer's extension and
``WARMING_TIMEOUT`` (c), INIT lasts until they are done; without the extension (d), INIT ends
after the import and the first invocation waits for them."""

from __future__ import annotations

from typing import Any

from bench_wire import get_async, path

from lambda_warmup import default_warmup, warm_handler, warm_init


@warm_init
async def config() -> bytes:
    return (await get_async(path("config")))[0]


@warm_init
async def api() -> bytes:
    await config
    return (await get_async(path("api")))[0]


@warm_init
async def catalog() -> bytes:
    return (await get_async(path("catalog")))[0]


import bench_heavy  # noqa: E402 (after the inits: they run while this imports)


@warm_handler
async def handler(event: Any, context: Any) -> dict[str, Any]:
    return {
        "import_s": bench_heavy.IMPORT_S,
        "inits_ms": {h.name: (h.duration or 0.0) * 1000 for h in default_warmup.handles},
        # perf_counter() instants (CLOCK_MONOTONIC, the sandbox's clock too): first init start,
        # last init settled.
        "started_at": min(h.started_at or 0.0 for h in default_warmup.handles),
        "settled_at": max(h.finished_at or 0.0 for h in default_warmup.handles),
    }
