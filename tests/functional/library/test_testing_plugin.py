"""lambda_warmup.testing, run as a user runs it: pytest on a small project of its own (pytester).

The project's handler module opens what a real one would: a TCP connection (asyncio streams, as
a database driver's pool holds them: bound to the loop that opened them) to a service an init
starts, and an ``httpx.AsyncClient`` to a local API. Its tests use them from pytest-asyncio
tests, on the test's own loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
from decimal import Decimal
from typing import Any

import anyio
import anyio.to_thread
import pytest

import lambda_warmup
from lambda_warmup import Settings, Warmup
from lambda_warmup._loop import BorrowedLoop
from lambda_warmup.testing import LambdaContext, invoke
from tests.support.library import LoopbackServer

pytest_plugins = ["pytester"]

STORE = '''
import asyncio

from lambda_warmup import warm_init


async def _echo(reader, writer):
    try:
        async for line in reader:
            writer.write(line)
            await writer.drain()
    finally:
        writer.close()


@warm_init
async def echo_server():
    """A TCP service of the test's own (stands for a database)."""
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    async with server:
        yield server


@warm_init
async def connection():
    """Streams belong to the loop that opened them, as a pool's connections do."""
    port = (await echo_server).sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    yield reader, writer
    writer.close()
    await writer.wait_closed()


async def echo(text):
    reader, writer = await connection
    writer.write(text.encode() + b"\\n")
    return (await reader.readline()).decode().strip()
'''

ORDERS = """
import os

import httpx

from app import store
from lambda_warmup import run, warm_handler, warm_init


@warm_init
async def api():
    async with httpx.AsyncClient(base_url=os.environ["ORDERS_API_URL"]) as client:
        yield client


@warm_handler
async def handler(event, context):
    response = await (await api).get(f"/orders/{event['id']}")
    return {
        "path": response.json()["path"],
        "echo": await store.echo(event["note"]),
        "request_id": context.aws_request_id,
    }


@warm_handler
def sync_handler(event, context):
    return run(store.echo, event["note"])
"""

USER_TESTS = """
import pytest

import app  # imported before the tests; its submodules are each test's own
from lambda_warmup.testing import LambdaContext, invoke

FIRST = {}


@pytest.mark.asyncio
async def test_handler_uses_what_the_inits_made(warmup):
    orders = await warmup.load("orders")
    context = LambdaContext(function_name="orders")
    result = await invoke(orders.handler, {"id": 7, "note": "hi"}, context)
    assert result == {"path": "/orders/7", "echo": "hi", "request_id": context.aws_request_id}
    assert await invoke(orders.sync_handler, {"note": "from a def handler"}) == (
        "from a def handler"
    )
    FIRST.update(handle=orders.store.connection, server=await orders.store.echo_server)
    assert await warmup.load("orders") is orders, "loaded once per test"
    assert len(warmup.handles) == 3


@pytest.mark.asyncio
async def test_the_test_itself_uses_them_on_its_own_loop(warmup):
    orders = await warmup.load("orders")
    reader, writer = await orders.store.connection
    writer.write(b"direct\\n")
    assert await reader.readline() == b"direct\\n"
    client = await orders.api
    assert (await client.get("/direct")).json() == {"path": "/direct"}


@pytest.mark.asyncio
async def test_each_test_has_inits_of_its_own(warmup):
    assert not FIRST["server"].is_serving(), "the first test's init was torn down after it"
    orders = await warmup.load("orders")
    await warmup.wait_inits_settled()
    states = [(handle.name, handle.state, handle.attempts) for handle in warmup.handles]
    assert states == [("echo_server", "ok", 1), ("connection", "ok", 1), ("api", "ok", 1)]
    assert orders.store.connection is not FIRST["handle"]
    assert (await invoke(orders.handler, {"id": 8, "note": "again"}))["echo"] == "again"
"""


@pytest.fixture
def orders_project(
    pytester: pytest.Pytester, loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A user's project: its handler module ``orders`` and a pytest configuration as ours."""
    monkeypatch.setenv("ORDERS_API_URL", f"http://127.0.0.1:{loopback_server.port}")
    pytester.makepyfile(orders=ORDERS, **{"app/__init__": "", "app/store": STORE})
    pytester.makeini(
        """
        [pytest]
        asyncio_mode = strict
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
        """
    )
    return pytester


@pytest.mark.parametrize(
    "loading", ["conftest", "-p"], ids=["pytest_plugins in conftest", "-p lambda_warmup.testing"]
)
def test_a_user_project_tests_its_handler_on_the_test_loop(
    orders_project: pytest.Pytester, loading: str
):
    orders_project.makepyfile(test_orders=USER_TESTS)
    if loading == "conftest":
        orders_project.makeconftest('pytest_plugins = ["lambda_warmup.testing"]')
        arguments: list[str] = []
    else:
        arguments = ["-p", "lambda_warmup.testing"]
    state_before = dict(vars(lambda_warmup.default_warmup))

    result = orders_project.runpytest(*arguments)

    result.assert_outcomes(passed=3)
    assert "attached to a different loop" not in result.stdout.str()
    # The plugin ran in this process: the default Warmup is as it was, with nothing of orders.
    assert vars(lambda_warmup.default_warmup) == state_before


def test_without_the_plugin_the_same_connection_is_on_another_loop(
    orders_project: pytest.Pytester,
):
    """What the plugin is for: imported as usual, the inits run on the warm loop's thread, and
    the test's loop cannot use what they made."""
    orders_project.makepyfile(
        test_orders="""
        import asyncio

        import pytest

        from app import store


        @pytest.mark.asyncio
        async def test_reads_the_connection():
            reader, writer = store.connection.result(5)
            await asyncio.wait_for(reader.readline(), 5)  # nothing sent: it has to wait
        """
    )
    result = orders_project.runpytest_subprocess()  # its inits stay on that process's loop
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: *attached to a different loop*"])


def test_misuses_fail_with_a_clear_message(orders_project: pytest.Pytester):
    orders_project.makeconftest('pytest_plugins = ["lambda_warmup.testing"]')
    orders_project.makepyfile(
        test_orders="""
        import pytest

        from lambda_warmup.testing import LambdaContext


        @pytest.mark.asyncio
        async def test_calls_the_handler_itself(warmup):
            orders = await warmup.load("orders")
            await warmup.wait_inits_settled()
            orders.handler({"id": 1, "note": "x"}, LambdaContext())


        def test_sync_test_with_the_fixture(warmup):
            pass
        """
    )
    result = orders_project.runpytest()
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_sync_test_with_the_fixture: the warmup fixture runs the inits on the test's "
            "event loop: use it in an async test (async def, marked @pytest.mark.asyncio)",
            "*RuntimeError: lambda-warmup: a handler (or run) called on the event loop the inits "
            "run on, which is this test's: * await lambda_warmup.testing.invoke(handler, event)",
        ]
    )


def test_a_test_on_another_loop_than_the_fixture_is_told_so(orders_project: pytest.Pytester):
    orders_project.makeconftest('pytest_plugins = ["lambda_warmup.testing"]')
    orders_project.makepyfile(
        test_orders="""
        import pytest


        @pytest.mark.asyncio(loop_scope="module")
        async def test_on_the_module_loop(warmup):
            await warmup.load("orders")
        """
    )
    result = orders_project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*RuntimeError: lambda_warmup.testing: this test runs on another event loop than its "
            "warmup fixture; give them the same loop scope*"
        ]
    )


def test_the_warmup_reads_the_environment_but_is_no_lambda_runtime(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("WARMUP_INIT_TIMEOUT", "50ms")
    monkeypatch.setenv("WARMING_TIMEOUT", "5s")
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
    pytester.makeconftest('pytest_plugins = ["lambda_warmup.testing"]')
    pytester.makepyfile(
        slow="""
        import anyio

        from lambda_warmup import warm_init


        @warm_init
        async def slow():
            await anyio.sleep(5)
        """,
        test_slow="""
        import pytest

        from lambda_warmup import InitTimeoutError


        @pytest.mark.asyncio
        async def test_an_init_past_warmup_init_timeout_fails(warmup):
            slow = await warmup.load("slow")
            with pytest.raises(InitTimeoutError, match="timed out after 0.05 s"):
                await slow.slow


        def test_settings(warmup_settings):
            assert warmup_settings.init_timeout == 0.05
            assert not warmup_settings.in_lambda, "no SIGTERM handler or SnapStart hooks"
            assert not warmup_settings.extension_expected, "no report"
        """,
    )
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.runpytest().assert_outcomes(passed=2)


def test_without_pytest_asyncio_the_plugin_says_what_to_install():
    probe = "import sys; sys.modules['pytest_asyncio'] = None; import lambda_warmup.testing"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: lambda_warmup.testing is a pytest plugin and needs pytest and "
        "pytest-asyncio (pytest_asyncio is missing): pip install pytest pytest-asyncio"
    )


# -- the borrowed loop, invoke and LambdaContext, on their own -----------------------------------
@pytest.mark.asyncio
async def test_a_borrowed_loop_serves_a_warmup_on_the_test_loop_until_stopped():
    loop = BorrowedLoop()
    warmup = Warmup(Settings(), loop=loop)

    async def running_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def forever() -> None:
        await anyio.sleep_forever()

    await loop.start()
    try:
        # Declared off the loop, as a module's import declares them.
        made_on = await anyio.to_thread.run_sync(warmup.init, running_loop)
        stuck = await anyio.to_thread.run_sync(warmup.init, forever)
        assert await made_on is asyncio.get_running_loop()
    finally:
        await loop.stop()
    assert stuck.state == "failed"
    assert "cancelled at shutdown" in str(stuck.error)
    with pytest.raises(RuntimeError, match="borrowed event loop that is not serving it"):
        await anyio.to_thread.run_sync(warmup.init, running_loop)


@pytest.mark.asyncio
async def test_invoke_calls_the_handler_off_the_loop_with_json_in_and_out():
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> Any:
        seen.update(event=event, thread=threading.current_thread(), context=context)
        return {"items": ("a", "b"), "total": Decimal("10.50"), "count": Decimal("3"), 1: None}

    result = await invoke(handler, {"ids": (1, 2)})

    assert result == {"items": ["a", "b"], "total": 10.5, "count": 3, "1": None}
    assert seen["event"] == {"ids": [1, 2]}, "the event as the runtime decodes it"
    assert seen["thread"] is not threading.current_thread(), "not on the test's loop"
    assert isinstance(seen["context"], LambdaContext)
    assert await invoke(lambda event, context: b"\x00raw", {}) == b"\x00raw"


@pytest.mark.asyncio
async def test_invoke_refuses_a_response_lambda_could_not_send():
    async def fetch() -> int:
        return 1

    with pytest.raises(
        TypeError,
        match=r"Runtime\.MarshalError: Unable to marshal response: "
        r"Object of type coroutine is not JSON serializable",
    ):
        await invoke(lambda event, context: fetch(), {})
    with pytest.raises(TypeError, match="the event must be what a JSON payload decodes to"):
        await invoke(lambda event, context: None, {"when": object()})


@pytest.mark.asyncio
async def test_invoke_raises_the_handlers_own_exception():
    class OrderNotFound(Exception):
        pass

    def handler(event: Any, context: Any) -> None:
        raise OrderNotFound(event["id"])

    with pytest.raises(OrderNotFound, match="17"):
        await invoke(handler, {"id": "17"})


def test_lambda_context_is_what_powertools_logger_reads(capsys: pytest.CaptureFixture[str]):
    from aws_lambda_powertools import Logger

    logger = Logger(service="orders", logger_handler=logging.StreamHandler())
    context = LambdaContext(function_name="orders", timeout=3)

    @logger.inject_lambda_context
    def handler(event: Any, context: Any) -> int:
        logger.info("pricing")
        return context.get_remaining_time_in_millis()  # type: ignore[no-any-return]

    remaining = handler({}, context)

    assert 0 < remaining <= 3000
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "pricing"
    assert line["function_name"] == "orders"
    assert line["function_request_id"] == context.aws_request_id
    assert line["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders"
    assert line["function_memory_size"] == "128"
    assert LambdaContext().aws_request_id != context.aws_request_id, "one id per context"


def test_lambda_contexts_deadline_counts_down():
    assert LambdaContext(timeout=0).get_remaining_time_in_millis() == 0
    assert 9_000 < LambdaContext(timeout=10).get_remaining_time_in_millis() <= 10_000
