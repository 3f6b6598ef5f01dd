"""Database (c): the sync way. A psycopg 3 connection opened at import (during INIT) and kept
for the sandbox's life; a plain ``def`` handler queries on it (autocommit: a lone ``SELECT`` must
not leave a transaction open between invocations)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from bench_db import SELECT_PSYCOPG, URL, answer, key

connection = psycopg.connect(URL, autocommit=True)


def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    row = connection.execute(SELECT_PSYCOPG, (key(event),)).fetchone()
    return answer(row, started)
