"""``run``: sync handlers and inits use what async inits made, on the warm loop."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any, assert_type

import anyio
import anyio.lowlevel
import httpx
import pytest

from lambda_warmup import InitFailedError, InitWaitTimeoutError, Settings, Warmup
from tests.support.library import FakeContext, LoopbackServer, QueuePool, bounded, settle


def test_sync_handler_uses_a_pool_of_the_warm_loop_across_invocations(warmup: Warmup):
    @warmup.init
    async def pool() -> QueuePool:
        return await QueuePool.bind(size=1)

    @warmup.handler
    def handler(event: dict[str, int], context: object) -> list[str]:
        queries = [f"SELECT {event['n']}", f"SELECT {event['n'] + 1}"]  # one waits: 1 connection
        return warmup.run(pool.value.fetch_many, *queries)

    for n in range(3):
        rows = bounded(functools.partial(handler, {"n": n}, FakeContext()))
        assert rows == [f"SELECT {n} on connection 0", f"SELECT {n + 1} on connection 0"]
    assert pool.value.queries == 6


def test_the_same_pool_fails_under_asyncio_run(warmup: Warmup):
    """What ``run`` is for: a sync handler's own loop cannot use the pool INIT made."""

    @warmup.init
    async def pool() -> QueuePool:
        return await QueuePool.bind(size=1)

    @warmup.handler
    def handler(event: object, context: object) -> list[str]:
        return asyncio.run(pool.value.fetch_many("SELECT 1", "SELECT 2"))

    with pytest.raises(RuntimeError, match="is bound to a different event loop"):
        bounded(lambda: handler({}, FakeContext()))


def test_plain_def_handler_uses_a_client_made_by_an_async_init(
    warmup: Warmup, loopback_server: LoopbackServer
):
    """Without ``@warm_handler`` too; keyword arguments reach the coroutine function."""

    @warmup.init
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{loopback_server.port}") as c:
            yield c

    def handler(event: dict[str, int], context: object) -> Any:
        response = warmup.run(client.result(5).get, f"/item/{event['n']}", timeout=5.0)
        return response.json()

    for n in range(3):
        assert bounded(functools.partial(handler, {"n": n}, None)) == {"path": f"/item/{n}"}


def test_sync_init_runs_a_coroutine_of_another_init(warmup: Warmup):
    @warmup.init
    async def pool() -> QueuePool:
        return await QueuePool.bind(size=1)

    @warmup.init
    def schema() -> list[str]:  # a def init, in a worker thread: run reaches the loop from there
        return warmup.run(pool.result(5).fetch_many, "CREATE a", "CREATE b")

    assert schema.result(5) == ["CREATE a on connection 0", "CREATE b on connection 0"]


def test_run_returns_the_value_typed_and_starts_the_loop_if_none_runs():
    warmup = Warmup(settings=Settings())
    try:
        assert not warmup._loop.running

        async def where(prefix: str, *, suffix: str) -> str:
            await anyio.lowlevel.checkpoint()
            return f"{prefix}{threading.current_thread().name}{suffix}"

        name = bounded(lambda: assert_type(warmup.run(where, "<", suffix=">"), str))
        assert name == "<lambda-warmup-loop>"
        assert warmup._loop.running
    finally:
        warmup.close(timeout=5)


def test_the_coroutines_exception_reaches_the_caller_unchanged(warmup: Warmup):
    class OrderNotFound(Exception):
        pass

    async def find(order: int) -> None:
        await anyio.lowlevel.checkpoint()
        raise OrderNotFound(f"order {order}")

    @warmup.handler
    def handler(event: dict[str, int], context: object) -> None:
        warmup.run(find, event["order"])

    with pytest.raises(OrderNotFound, match=r"^order 17$") as caught:
        bounded(lambda: handler({"order": 17}, FakeContext()))
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "handler" in frames
    assert "find" in frames

    async def slow() -> None:  # its own TimeoutError is not a blocked loop
        with anyio.fail_after(0.01):
            await anyio.sleep(1)

    with pytest.raises(TimeoutError) as timed_out:
        bounded(lambda: warmup.run(slow))
    assert not isinstance(timed_out.value, InitWaitTimeoutError)


def test_awaiting_a_failed_init_inside_run_is_init_failed_error(warmup: Warmup):
    @warmup.init(required=False)
    async def cache() -> str:
        raise ConnectionError("no cache")

    async def read() -> str:
        return await cache

    settle(cache)
    with pytest.raises(InitFailedError, match="init 'cache' failed: ConnectionError: no cache"):
        bounded(lambda: warmup.run(read))


def test_run_on_the_warm_loop_says_await_instead_of_deadlocking(warmup: Warmup):
    async def fetch() -> str:
        return "row"

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        return warmup.run(fetch)  # the mistake: an async handler must await

    with pytest.raises(RuntimeError) as caught:
        bounded(lambda: handler({}, FakeContext()))
    message = str(caught.value)
    assert message == (
        "lambda_warmup.run(fetch) called on the warm loop (in an async handler or init), "
        "where it would wait for itself; await fetch(...) instead"
    )
    assert "\n" not in message

    @warmup.init
    async def misuse() -> str:
        return warmup.run(fetch)

    settle(misuse)
    assert isinstance(misuse.error, RuntimeError)
    assert str(misuse.error) == message


def test_run_in_a_handler_is_bounded_by_the_invocations_remaining_time(warmup: Warmup):
    gate = threading.Event()

    @warmup.init(required=False)  # so the handler itself does not wait for it
    async def blocker() -> None:
        gate.wait(10)  # a blocking call on the loop

    async def fetch() -> str:
        return "never"

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return warmup.run(fetch)

    started = time.monotonic()
    try:
        with pytest.raises(InitWaitTimeoutError) as caught:
            bounded(lambda: handler({}, FakeContext(remaining_ms=400)))
    finally:
        gate.set()
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith("the warm loop did not answer within 0.")
    assert "blocker (" in message  # where the loop thread is stuck


def test_an_init_outliving_the_invocation_that_retried_it_is_not_bound_by_its_deadline(
    warmup: Warmup,
):
    gate = threading.Event()
    attempts: list[int] = []

    async def fetch() -> str:
        return "row"

    @warmup.init(required=False)
    def late() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("throttled during INIT")
        gate.wait(5)  # still running when the invocation that retried it has ended
        return warmup.run(fetch)

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return "served"

    settle(late)
    context = FakeContext(remaining_ms=100)
    assert bounded(lambda: handler({}, context)) == "served"  # retries 'late', waits not
    while context.get_remaining_time_in_millis() > 0:
        time.sleep(0.01)
    gate.set()
    assert late.result(5) == "row"
