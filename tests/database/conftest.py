"""Fixtures for the database tests: PostgreSQL servers, the drivers' layer per session, and the
pool functions in the sandbox against a server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import LocalPostgres
from tests.support.database import (
    MakeFunction,
    PoolFunction,
    drivers_layer,
    log_connections,
    pool_function,
    start_postgres,
)


@pytest.fixture
def postgres() -> Iterator[LocalPostgres]:
    """A started server of the test's own (~1.5 s), stopped after the test (whatever the test
    did to it): for tests that stop or restart it.

    Its data is not under ``tmp_path``: as root the server runs as its own system user, and a
    pytest run starting meanwhile (another checkout, another engineer) sets
    ``/tmp/pytest-of-root`` back to mode 700, which locks that user out of its data directory
    (``pg_ctl stop`` then fails and leaves the server running).
    """
    with tempfile.TemporaryDirectory(prefix="lambda-warmup-pg-", ignore_cleanup_errors=True) as tmp:
        db = start_postgres(Path(tmp) / "pgdata")
        try:
            yield db
        finally:
            db.stop(mode="immediate")


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[LocalPostgres]:
    """One server for the session's tests that leave it running, connections logged
    (``connected_pids``). ``make_function`` leaves it with none of its functions' connections."""
    with tempfile.TemporaryDirectory(prefix="lambda-warmup-pg-", ignore_cleanup_errors=True) as tmp:
        db = start_postgres(Path(tmp) / "pgdata")
        try:
            log_connections(db)
            yield db
        finally:
            db.stop(mode="immediate")


@pytest.fixture(scope="session")
def drivers() -> Path:
    """The layer with asyncpg, psycopg, psycopg_pool and aiobotocore for python3.13."""
    return drivers_layer()


@pytest.fixture
def make_function(
    shared_postgres: LocalPostgres, drivers: Path, tmp_path: Path
) -> Iterator[MakeFunction]:
    """``make_function(driver, db=shared_postgres, code=FUNCTIONS, env={}, **sandbox_kwargs)
    -> PoolFunction``. After the test every sandbox made is shut down, and the test fails if a
    function's connections are still on its server 5 s later."""
    made: list[PoolFunction] = []

    def make(driver: str, *, db: LocalPostgres | None = None, **kwargs: Any) -> PoolFunction:
        function = pool_function(driver, db or shared_postgres, drivers, tmp_path, **kwargs)
        made.append(function)
        return function

    yield make
    for function in made:
        function.sandbox.shutdown()
    for function in made:
        if function.db.running:
            function.wait_backends(0, "the test's sandboxes shut down", timeout=5.0)
