"""Fixtures for the client tests: the keep-alive API server and a queue per test, moto's server
per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import KeepAliveServer, Moto, MotoSqs, moto_server, sqs_queue


@pytest.fixture
def api() -> Iterator[KeepAliveServer]:
    """The HTTP server the function's httpx client talks to (``API_URL``)."""
    with KeepAliveServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    with moto_server() as server:
        yield server


@pytest.fixture
def aws(moto: Moto) -> Iterator[MotoSqs]:
    """A new queue in moto, behind a keep-alive front of its own (``AWS_ENDPOINT_URL``)."""
    with sqs_queue(moto) as queue:
        yield queue
