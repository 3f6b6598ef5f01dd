"""@warm_handler: waits for inits, runs async handlers on the warm loop, keeps errors intact."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import traceback
from collections.abc import AsyncIterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import lambda_warmup._loop
from lambda_warmup import InitFailedError, InitWaitTimeoutError, Warmup
from tests.support.library import FakeContext, LoopbackServer, settle


class LoopBoundPool:
    """Like asyncpg's pool: bound to the loop it was made on, unusable from any other."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def fetch(self) -> str:
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("attached to a different loop")
        await asyncio.sleep(0)
        return "row"


def test_client_made_in_init_serves_every_invocation(
    warmup: Warmup, loopback_server: LoopbackServer
):
    @warmup.init
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{loopback_server.port}") as c:
            yield c  # closed by the fixture's warmup.close(), on this same loop

    @warmup.init
    async def pool() -> LoopBoundPool:
        return LoopBoundPool()

    @warmup.handler
    async def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        response = await client.value.get(f"/item/{event['n']}")
        return {"body": response.json(), "row": await pool.value.fetch()}

    results = [handler({"n": n}, FakeContext()) for n in range(3)]
    assert results == [{"body": {"path": f"/item/{n}"}, "row": "row"} for n in range(3)]


def test_the_same_pool_fails_under_asyncio_run_per_invocation(warmup: Warmup):
    """What the library exists to avoid: a per-invocation loop cannot use INIT's pool."""

    @warmup.init
    async def pool() -> LoopBoundPool:
        return LoopBoundPool()

    def handler(event: object, context: object) -> str:
        return asyncio.run(pool.result(5).fetch())

    with pytest.raises(RuntimeError, match="attached to a different loop"):
        handler({}, FakeContext())


def test_handler_invoked_during_init_waits_and_sees_the_result(warmup: Warmup):
    gate = threading.Event()

    @warmup.init
    async def model() -> str:
        await anyio.to_thread.run_sync(gate.wait, 10)
        return "weights"

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return f"predicted with {model.value}"

    outcome: list[str] = []
    invocation = threading.Thread(target=lambda: outcome.append(handler({}, FakeContext())))
    invocation.start()
    invocation.join(0.2)
    assert invocation.is_alive(), "the handler ran before its init finished"
    assert outcome == []
    gate.set()
    invocation.join(10)
    assert not invocation.is_alive(), "the handler still waits 10 s after its init finished"
    assert outcome == ["predicted with weights"]


def test_async_handler_runs_on_the_warm_loop(warmup: Warmup):
    @warmup.init
    async def loop_of_init() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    @warmup.handler
    async def handler(event: object, context: object) -> bool:
        return asyncio.get_running_loop() is loop_of_init.value

    assert handler({}, FakeContext()) is True


def test_handler_without_any_init(warmup: Warmup):
    @warmup.handler
    async def handler(event: dict[str, int], context: object) -> int:
        await anyio.lowlevel.checkpoint()
        return event["x"] * 2

    assert handler({"x": 21}, None) == 42


def test_user_exception_keeps_type_and_traceback(warmup: Warmup):
    class OrderNotFound(Exception):
        pass

    @warmup.handler
    async def handler(event: object, context: object) -> None:
        raise OrderNotFound("order 17")

    with pytest.raises(OrderNotFound, match="order 17") as caught:
        handler({}, FakeContext())
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "handler" in frames

    @warmup.handler
    def sync_handler(event: object, context: object) -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        sync_handler({}, FakeContext())


def test_required_init_failure_fails_invocation_naming_it(warmup: Warmup):
    @warmup.init
    async def secrets() -> None:
        raise PermissionError("AccessDenied on GetSecretValue")

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return "never"

    settle(secrets)
    with pytest.raises(InitFailedError) as caught:
        handler({}, FakeContext())
    assert str(caught.value) == (
        "required init(s) failed: 'secrets': PermissionError: AccessDenied on GetSecretValue"
    )
    assert caught.value.init_names == ("secrets",)
    assert isinstance(caught.value.__cause__, PermissionError)


def test_optional_init_failure_never_blocks(warmup: Warmup, caplog: pytest.LogCaptureFixture):
    @warmup.init(required=False)
    async def metrics_client() -> None:
        raise ConnectionError("no collector")

    @warmup.init(required=False)
    async def slow_cache() -> None:
        await anyio.sleep_forever()

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return "served"

    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        settle(metrics_client)
        assert handler({}, FakeContext()) == "served"
    assert any("optional init 'metrics_client' failed" in r.getMessage() for r in caplog.records)


def test_failed_init_is_retried_at_the_next_invocation(warmup: Warmup):
    calls: list[int] = []

    @warmup.init
    async def config() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("throttled during INIT")
        return "config"

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        return await config

    settle(config)
    assert config.state == "failed"
    assert handler({}, FakeContext()) == "config"  # the first invocation retries it
    assert len(calls) == 2
    assert handler({}, FakeContext()) == "config"
    assert len(calls) == 2  # a success is kept


def test_dependents_of_a_failed_init_are_retried_too(warmup: Warmup):
    calls: list[int] = []

    @warmup.init
    async def secret() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("throttled")
        return "s3cr3t"

    @warmup.init
    async def client() -> str:
        return f"client({await secret})"

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return client.value

    settle(client)
    assert client.state == "failed"
    assert handler({}, FakeContext()) == "client(s3cr3t)"


def test_wait_is_bounded_by_remaining_time(warmup: Warmup):
    @warmup.init
    async def hangs() -> None:
        await anyio.sleep_forever()

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return "never"

    with pytest.raises(InitWaitTimeoutError) as caught:
        handler({}, FakeContext(remaining_ms=300))
    message = str(caught.value)
    assert "gave up waiting for required init(s) 'hangs'" in message
    assert "WARMING_TIMEOUT" in message
    assert hangs.state == "running"  # the init itself is not cancelled by the handler


def test_declaring_inits_never_waits_for_a_blocked_loop(warmup: Warmup):
    gate = threading.Event()

    @warmup.init
    async def blocker() -> bool:
        return gate.wait(5)  # a blocking call on the loop: the bug this test survives

    @warmup.init
    async def later() -> int:  # declared while the loop is blocked
        return 2

    gate.set()  # reached at once only if declaring 'later' did not wait for the loop
    assert blocker.result(10) is True, "declaring an init waited for the blocked loop"
    assert later.result(10) == 2


def test_blocked_loop_fails_the_invocation_naming_where(warmup: Warmup):
    gate = threading.Event()

    @warmup.init
    async def blocker() -> None:
        gate.wait(10)

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        return "never"

    try:
        with pytest.raises(InitWaitTimeoutError) as caught:
            handler({}, FakeContext(remaining_ms=400))
    finally:
        gate.set()
    message = str(caught.value)
    assert message.startswith("the warm loop did not answer within")
    assert "blocking call in an async init" in message
    assert "blocker (" in message  # where the loop thread is stuck


def test_after_a_blocked_loop_times_the_handler_out_it_never_runs(warmup: Warmup):
    gate = threading.Event()
    ran: list[str] = []

    @warmup.init
    async def blocker() -> None:
        gate.wait(10)

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        ran.append("handler")
        return "late"

    try:
        with pytest.raises(InitWaitTimeoutError):
            handler({}, FakeContext(remaining_ms=400))
    finally:
        gate.set()
    assert blocker.result(10) is None
    warmup.run(anyio.lowlevel.checkpoint)  # the loop has served what was queued before
    assert ran == [], "the invocation failed, yet its handler ran later"


def test_a_handler_the_loop_takes_just_as_the_wait_runs_out_is_waited_for(
    warmup: Warmup, monkeypatch: pytest.MonkeyPatch
):
    """The loop picks the handler up in the instant the wait for it ends: the caller either
    withdraws it (and raises) or waits for its result, never raises while it runs anyway."""
    gate = threading.Event()
    ran: list[str] = []

    class StartsAsTheWaitEnds(Future[Any]):
        def result(self, timeout: float | None = None) -> Any:
            if timeout is not None and not self.done():
                gate.set()  # the loop gets free now, while this wait is "running out"
                bound = time.monotonic() + 5
                while not (self.running() or self.done()) and time.monotonic() < bound:
                    time.sleep(0.001)
                assert self.running() or self.done(), "the loop did not take the handler"
                raise FutureTimeoutError
            return super().result(timeout)

    @warmup.init(required=False)  # the handler does not wait for it: only for the loop
    async def blocker() -> None:
        gate.wait(10)

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        ran.append("handler")
        await anyio.sleep(0.05)
        return "served"

    monkeypatch.setattr(lambda_warmup._loop, "Future", StartsAsTheWaitEnds)
    assert handler({}, FakeContext(remaining_ms=400)) == "served"
    assert ran == ["handler"]


def test_closing_cancels_a_handler_still_running(warmup: Warmup):
    started = threading.Event()
    cleaned_up: list[str] = []
    outcome: list[BaseException | str] = []

    @warmup.handler
    async def handler(event: object, context: object) -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned_up.append(asyncio.current_task().get_name())  # type: ignore[union-attr]
        return "never"

    def invoke() -> None:
        try:
            outcome.append(handler({}, FakeContext()))
        except BaseException as error:
            outcome.append(error)

    caller = threading.Thread(target=invoke, name="runtime")
    caller.start()
    assert started.wait(10), "the handler did not start"
    assert warmup.close(timeout=1) is True
    caller.join(10)
    assert not caller.is_alive(), "the caller still waits for a handler the close cancelled"
    assert cleaned_up == ["handler"]
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], asyncio.CancelledError), outcome
