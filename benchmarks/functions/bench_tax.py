"""The bare function with the library in use but no inits: what the layer costs by itself."""

from __future__ import annotations

from typing import Any

from lambda_warmup import warm_handler


@warm_handler
def handler(event: Any, context: Any) -> Any:
    return None
