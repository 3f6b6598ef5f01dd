"""A team's own function, outside the lambda-warmup repository: an async init on the warm loop,
a dependency of its own (installed by ``sam build``), lambda_warmup from the layer."""

import platform
import threading
import time
from typing import Any

import anyio
import packaging

from lambda_warmup import warm_handler, warm_init


@warm_init
async def catalog() -> dict[str, Any]:
    await anyio.sleep(0.5)  # e.g. a pool opening, or a config fetch
    return {"finished_at": time.time(), "packaging": packaging.__version__}


@warm_handler
async def _serve(event: Any, context: Any) -> dict[str, Any]:
    return {**catalog.value, "loop": threading.current_thread().name}


def handler(event: Any, context: Any) -> dict[str, Any]:
    done_on_entry = catalog.done()
    return {
        "done_on_entry": done_on_entry,
        "entered_at": time.time(),
        "python": platform.python_version(),
        **_serve(event, context),
    }
