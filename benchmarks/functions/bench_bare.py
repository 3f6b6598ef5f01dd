"""A bare function: nothing imported, nothing done. The baseline of the layer's tax and of the
per-invocation cost."""

from __future__ import annotations

from typing import Any


def handler(event: Any, context: Any) -> Any:
    return None
