"""What reaches code on the warm loop from the invocation: an awaitable a ``def`` returns, the
caller's context variables, Powertools' keys and cold start, the task's name, X-Ray's entities."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import io
import logging
import subprocess
import sys
import threading
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Tracer

from lambda_warmup import InitWaitTimeoutError, Warmup
from tests.support.library import bounded, settle
from tests.support.powertools import (
    FUNCTION_SEGMENT,
    TRACE_ROOT,
    CapturedEmitter,
    PowertoolsContext,
    log_lines,
)

request_tag: contextvars.ContextVar[str] = contextvars.ContextVar("request_tag", default="unset")


def invoke(handler: Any, event: Any = None, context: Any = None) -> Any:
    context = context or PowertoolsContext()
    return bounded(functools.partial(handler, event or {}, context))


# -- a def that returns an awaitable -----------------------------------------------------------
def test_def_handler_returning_a_coroutine_gets_it_awaited_on_the_warm_loop(warmup: Warmup):
    async def work(n: int) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"n": n, "thread": threading.current_thread().name}

    @warmup.handler
    def handler(event: dict[str, int], context: Any) -> Any:
        return work(event["n"])  # a coroutine: never returned to the runtime (MarshalError)

    assert invoke(handler, {"n": 3}) == {"n": 3, "thread": "lambda-warmup-loop"}


def test_def_handler_returning_a_future_like_awaitable_gets_it_awaited(warmup: Warmup):
    class Later:
        def __await__(self) -> Any:
            yield from asyncio.sleep(0).__await__()
            return "later"

    @warmup.handler
    def handler(event: Any, context: Any) -> Any:
        return Later()

    assert invoke(handler) == "later"


def test_the_awaited_coroutines_exception_reaches_the_caller_unchanged(warmup: Warmup):
    raised = LookupError("no such order")

    async def work() -> None:
        await asyncio.sleep(0)
        raise raised

    @warmup.handler
    def handler(event: Any, context: Any) -> Any:
        return work()

    with pytest.raises(LookupError) as caught:
        invoke(handler)
    assert caught.value is raised


def test_an_awaitable_waits_for_a_blocked_loop_only_until_the_deadline(warmup: Warmup):
    gate = threading.Event()

    @warmup.init(required=False)  # the invocation does not wait for it: the hop meets the block
    async def blocker() -> None:
        gate.wait(10)

    async def work() -> str:
        return "never"

    @warmup.handler
    def handler(event: Any, context: Any) -> Any:
        return work()

    try:
        with pytest.raises(InitWaitTimeoutError, match="the warm loop did not answer within"):
            invoke(handler, context=PowertoolsContext(remaining_ms=400))
    finally:
        gate.set()
    settle(blocker)


def test_a_rebuilt_wrapper_waits_for_a_blocked_loop_only_until_the_deadline(
    warmup: Warmup, logger: Logger
):
    gate = threading.Event()

    @warmup.init(required=False)
    async def blocker() -> None:
        gate.wait(10)

    @warmup.handler
    @logger.inject_lambda_context
    async def handler(event: Any, context: Any) -> str:
        return "never"

    try:
        with pytest.raises(InitWaitTimeoutError, match="the warm loop did not answer within"):
            invoke(handler, context=PowertoolsContext(remaining_ms=400))
    finally:
        gate.set()
    settle(blocker)


def test_a_wrapper_that_cannot_be_rebuilt_is_awaited_and_named_in_a_warning(
    warmup: Warmup, caplog: pytest.LogCaptureFixture
):
    class Counting:
        """A class-based decorator: its instance holds the handler, not a closure."""

        def __init__(self, func: Any) -> None:
            functools.update_wrapper(self, func)
            self.func = func
            self.calls = 0

        def __call__(self, event: Any, context: Any) -> Any:
            self.calls += 1
            return self.func(event, context)

    @Counting
    async def handler(event: Any, context: Any) -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    with caplog.at_level(logging.WARNING, logger="lambda_warmup"):
        warm = warmup.handler(handler)
    assert invoke(warm) == "lambda-warmup-loop"
    assert handler.calls == 1
    assert "handler 'handler' is a def wrapping an async def" in caplog.text
    assert "put that decorator above @warm_handler" in caplog.text


def test_rebuilding_leaves_the_users_own_wrapper_alone(warmup: Warmup, logger: Logger):
    async def handler(event: Any, context: Any) -> str:
        return "ok"

    injected = logger.inject_lambda_context(handler)
    closure = [cell.cell_contents for cell in injected.__closure__ or ()]
    warm = warmup.handler(injected)

    assert invoke(warm) == "ok"
    assert [cell.cell_contents for cell in injected.__closure__ or ()] == closure
    assert inspect.unwrap(injected) is handler


# -- context variables and Powertools' keys ---------------------------------------------------
@pytest.mark.parametrize("kind", ["async handler", "def handler returning a coroutine", "run"])
def test_the_callers_context_variables_reach_the_warm_loop_and_do_not_come_back(
    warmup: Warmup, kind: str
):
    async def read_and_change() -> tuple[str, str]:
        seen = request_tag.get()
        request_tag.set("changed on the loop")
        return seen, threading.current_thread().name

    if kind == "async handler":

        @warmup.handler
        async def handler(event: Any, context: Any) -> Any:
            return await read_and_change()

    elif kind == "def handler returning a coroutine":

        @warmup.handler
        def handler(event: Any, context: Any) -> Any:
            return read_and_change()

    else:

        @warmup.handler
        def handler(event: Any, context: Any) -> Any:
            return warmup.run(read_and_change)

    def as_the_runtime() -> tuple[Any, str]:
        request_tag.set("set by the caller")  # e.g. by a decorator above @warm_handler
        return handler({}, PowertoolsContext()), request_tag.get()

    result, after = bounded(as_the_runtime)
    assert result == ("set by the caller", "lambda-warmup-loop")
    assert after == "set by the caller"


def test_powertools_thread_safe_keys_reach_a_log_line_on_the_warm_loop(
    warmup: Warmup, logger: Logger, log_stream: io.StringIO
):
    @warmup.handler
    async def handler(event: Any, context: Any) -> None:
        logger.info("on the loop")

    @logger.inject_lambda_context
    def outer(event: Any, context: Any) -> None:
        logger.thread_safe_append_keys(tenant=event["tenant"])  # a contextvar of Powertools'
        try:
            handler(event, context)
        finally:
            logger.thread_safe_clear_keys()

    for tenant in ("acme", "globex"):
        invoke(outer, {"tenant": tenant})

    lines = [line for line in log_lines(log_stream.getvalue()) if line["message"] == "on the loop"]
    assert [(line["tenant"], line["cold_start"], line["taskName"]) for line in lines] == [
        ("acme", True, "handler"),
        ("globex", False, "handler"),
    ]


def test_task_name_on_a_log_line_names_the_init_or_is_absent(
    warmup: Warmup, logger: Logger, log_stream: io.StringIO
):
    @warmup.init
    async def orders_table() -> str:
        logger.info("async init")
        return "orders"

    @warmup.init
    def boto3_client() -> str:  # a def init: a worker thread, no task
        logger.info("def init")
        return "client"

    @warmup.init(name="payments api")
    async def payments() -> str:
        logger.info("named init")
        return "payments"

    for handle in (orders_table, boto3_client, payments):
        settle(handle)
    names = {line["message"]: line.get("taskName") for line in log_lines(log_stream.getvalue())}
    assert names == {"async init": "orders_table", "def init": None, "named init": "payments api"}


# -- X-Ray ------------------------------------------------------------------------------------
def test_concurrent_tasks_keep_their_own_subsegments(
    warmup: Warmup, tracer: Tracer, emitter: CapturedEmitter
):
    """Two tasks interleaving inside their subsegments: each nests under ``## handler``, not
    under the other (with one stack per thread, the second would nest under the first, and
    the first's end would close the second's)."""
    both_open = asyncio.Barrier(2)

    async def charge(name: str) -> str:
        async with tracer.provider.in_subsegment_async(name):
            await both_open.wait()  # both subsegments are open at once
            await asyncio.sleep(0)
        return name

    @tracer.capture_lambda_handler
    @warmup.handler
    async def handler(event: Any, context: Any) -> list[str]:
        return list(await asyncio.gather(charge("card"), charge("ledger")))

    assert invoke(handler) == ["card", "ledger"]
    subsegments = emitter.subsegments()
    outer = subsegments["## handler"]
    assert subsegments["card"]["parent_id"] == outer["id"]
    assert subsegments["ledger"]["parent_id"] == outer["id"]
    assert {s["name"] for s in outer.get("subsegments", [])} <= {"card", "ledger"}
    assert "subsegments" not in subsegments["card"]
    assert "subsegments" not in subsegments["ledger"]


def test_def_handler_using_run_nests_the_loops_subsegment_under_handler(
    warmup: Warmup, tracer: Tracer, emitter: CapturedEmitter
):
    async def fetch() -> str:
        async with tracer.provider.in_subsegment_async("fetch"):
            await asyncio.sleep(0)
        return "row"

    @tracer.capture_lambda_handler
    @warmup.handler
    def handler(event: Any, context: Any) -> str:
        return warmup.run(fetch)

    assert invoke(handler) == "row"
    subsegments = emitter.subsegments()
    assert subsegments["fetch"]["parent_id"] == subsegments["## handler"]["id"]


def test_an_init_retried_at_an_invocation_nests_under_the_functions_segment(
    warmup: Warmup, tracer: Tracer, emitter: CapturedEmitter
):
    attempts: list[int] = []

    @warmup.init
    async def table() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("throttled")  # during INIT: retried at the next invocation
        async with tracer.provider.in_subsegment_async("describe table"):
            await asyncio.sleep(0)
        return "orders"

    settle(table)

    @warmup.handler
    async def handler(event: Any, context: Any) -> str:
        return await table

    assert invoke(handler) == "orders"
    described = emitter.subsegments()["describe table"]
    assert (described["trace_id"], described["parent_id"]) == (TRACE_ROOT, FUNCTION_SEGMENT)


def test_the_hop_never_imports_the_x_ray_sdk():
    """It looks the SDK up in ``sys.modules``: a function that does not use it never loads it."""
    probe = """
import sys
from lambda_warmup import Warmup
warmup = Warmup()

@warmup.handler
async def handler(event, context):
    return "ok"

assert handler({}, None) == "ok"
print(sorted(m for m in sys.modules if m.startswith(("aws_xray_sdk", "aws_lambda_powertools"))))
warmup.close()
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"
