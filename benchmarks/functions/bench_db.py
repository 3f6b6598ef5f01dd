"""What the database table's three functions share: the server's address, the query (a
primary-key lookup in the small ``items`` table ``benchmarks/bench_database.py`` makes), the key
an event asks for, and the answer (the row, and the handler's own time)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

URL = os.environ["BENCH_DATABASE_URL"]
#: The same statement in each driver's placeholder style.
SELECT_ASYNCPG = "SELECT id, name, price_cents FROM items WHERE id = $1"
SELECT_PSYCOPG = "SELECT id, name, price_cents FROM items WHERE id = %s"


def key(event: Any) -> int:
    """The item an event asks for (``{"id": n}``; 1 if it names none)."""
    return int(event.get("id", 1)) if isinstance(event, dict) else 1


def answer(row: Sequence[Any] | None, started: float) -> dict[str, Any]:
    """The row, and ms since ``started`` (a ``perf_counter()`` at the handler's start)."""
    elapsed_ms = (time.perf_counter() - started) * 1000
    if row is None:
        raise LookupError("no such item")
    return {"id": row[0], "name": row[1], "price_cents": row[2], "handler_ms": elapsed_ms}
