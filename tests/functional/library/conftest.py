"""Fixtures for the library's functional tests: a Warmup of the test's own, a loopback server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambda_warmup import Settings, Warmup
from tests.support.library import LoopbackServer, serving_loopback


@pytest.fixture
def warmup() -> Iterator[Warmup]:
    """A Warmup of the test's own, so no test leaks inits or a loop into the next."""
    instance = Warmup(settings=Settings())
    yield instance
    instance.close(timeout=5)


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    with serving_loopback() as server:
        yield server
