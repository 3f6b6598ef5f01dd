"""Fixtures for the database tests: a PostgreSQL server per test, the drivers' layer per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_sandbox import LocalPostgres
from tests.support.database import drivers_layer, start_postgres


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A started server, stopped after the test (whatever the test did to it)."""
    db = start_postgres(tmp_path / "pgdata")
    try:
        yield db
    finally:
        db.stop(mode="immediate")


@pytest.fixture(scope="session")
def drivers() -> Path:
    """The layer with asyncpg, psycopg, psycopg_pool and aiobotocore for python3.13."""
    return drivers_layer()
