"""The floor under any asyncio design: the runtime's own start plus ``import asyncio``, and
nothing else. Issue 18 bounds design (c) by max(import, critical path) + this; the designs
table cold-starts it in every run, beside (c), so that each (c) is held to the floor the
machine gave in the same minute."""

from __future__ import annotations

import asyncio  # noqa: F401  (the import is the point)
from typing import Any


def handler(event: Any, context: Any) -> Any:
    return None
