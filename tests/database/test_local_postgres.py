"""The local PostgreSQL the database tests, the demo and the benchmarks stand on."""

from __future__ import annotations

import socket

import pytest

from lambda_sandbox import LocalPostgres, PostgresError


def test_listens_on_loopback_tcp_and_answers(postgres: LocalPostgres) -> None:
    assert postgres.url == f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres"
    assert postgres.sql("SELECT 1 + 1") == [["2"]]
    with socket.create_connection(("127.0.0.1", postgres.port), timeout=5):
        pass
    assert not list(postgres.data_dir.glob(".s.PGSQL.*")), "a UNIX socket was made"


def test_restart_keeps_the_data_and_the_port(postgres: LocalPostgres) -> None:
    postgres.sql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    port = postgres.port
    postgres.restart()
    assert postgres.port == port
    assert postgres.sql("SELECT n FROM kept") == [["7"]]


def test_stopped_server_refuses_and_a_bad_statement_names_itself(postgres: LocalPostgres) -> None:
    with pytest.raises(PostgresError, match="syntax error"):
        postgres.sql("SELEC 1")
    postgres.stop()
    assert not postgres.running
    with pytest.raises(PostgresError, match="psql"):
        postgres.sql("SELECT 1")


def test_stops_after_a_directory_above_its_data_lost_the_others_search_bit(
    postgres: LocalPostgres,
) -> None:
    """As root the server runs as its own user; pytest sets /tmp/pytest-of-root back to 0700 at
    each run's start, which must not leave a server that ``stop`` cannot reach."""
    postgres.data_dir.parent.chmod(0o700)
    postgres.stop()
    assert not postgres.running
