"""Fixtures for the ASGI adapter's tests: a Warmup of the test's own, the app served by both
adapters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambda_warmup import Settings, Warmup
from tests.support.asgi_app import LifespanLog, make_app
from tests.support.library import LoopbackServer, serving_loopback
from tests.support.mangum_runner import MangumRunner


@pytest.fixture
def warmup() -> Iterator[Warmup]:
    """A Warmup of the test's own, so no test leaks inits or a loop into the next."""
    instance = Warmup(settings=Settings())
    yield instance
    instance.close(timeout=5)


@pytest.fixture
def mangum_log() -> LifespanLog:
    return LifespanLog()


@pytest.fixture
def mangum(mangum_log: LifespanLog) -> Iterator[MangumRunner]:
    runner = MangumRunner(make_app(mangum_log))
    yield runner
    runner.close()


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A local listener standing in for the extension: the report is POSTed to it."""
    with serving_loopback() as server:
        yield server
