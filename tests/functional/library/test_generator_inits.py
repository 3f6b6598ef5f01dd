"""``@warm_init`` on a ``def`` that ``yield``s (as a pytest fixture): its value at the ``yield``,
the rest at shutdown, both in worker threads; otherwise treated as an ``async def`` that yields."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest

from lambda_warmup import InitFailedError, InitHandle, Settings, Warmup
from tests.support.library import FakeContext, bounded, settle

REPO = Path(__file__).resolve().parents[3]
LOOP_THREAD = "lambda-warmup-loop"


def test_value_is_the_yielded_value_and_setup_runs_in_a_worker_thread(warmup: Warmup):
    threads: list[str] = []

    @warmup.init
    def client() -> Iterator[dict[str, str]]:
        threads.append(threading.current_thread().name)
        yield {"region": "eu-west-1"}

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return client.value["region"]

    assert client.result(5) == {"region": "eu-west-1"}
    assert bounded(lambda: handler({}, FakeContext())) == "eu-west-1"
    [thread] = threads
    assert thread not in (LOOP_THREAD, threading.current_thread().name)


def test_code_after_the_yield_runs_at_close_in_a_worker_thread():
    warmup = Warmup(settings=Settings())
    events: list[tuple[str, str]] = []

    @warmup.init
    def pool() -> Iterator[str]:
        events.append(("open", threading.current_thread().name))
        yield "pool"
        events.append(("close", threading.current_thread().name))

    assert pool.result(5) == "pool"
    assert [event for event, _ in events] == ["open"]
    assert warmup.close(timeout=5) is True
    assert [event for event, _ in events] == ["open", "close"]
    teardown_thread = events[1][1]
    assert teardown_thread not in (LOOP_THREAD, threading.current_thread().name)
    assert warmup.close(timeout=5) is True
    assert len(events) == 2  # once, however often close is called


def test_with_block_around_the_yield_is_left_at_shutdown(tmp_path: Path):
    warmup = Warmup(settings=Settings())

    @warmup.init
    def log_file() -> Iterator[TextIO]:
        with (tmp_path / "init.log").open("w") as file:
            yield file

    file = log_file.result(5)
    file.write("written by the handler\n")
    open_at_first = not file.closed
    assert warmup.close(timeout=5) is True
    assert (open_at_first, file.closed) == (True, True)
    assert (tmp_path / "init.log").read_text() == "written by the handler\n"


def test_teardowns_run_last_declared_first_across_both_kinds():
    warmup = Warmup(settings=Settings())
    order: list[str] = []

    @warmup.init
    def first() -> Iterator[int]:
        yield 1
        order.append("first (def)")

    @warmup.init
    async def second() -> AsyncIterator[int]:
        yield 2
        order.append("second (async def)")

    @warmup.init
    def third() -> Iterator[int]:
        yield 3
        order.append("third (def)")

    @warmup.on_shutdown
    def flush() -> None:
        order.append("shutdown hook")

    assert [handle.result(5) for handle in (first, second, third)] == [1, 2, 3]
    assert warmup.close(timeout=5) is True
    assert order == ["shutdown hook", "third (def)", "second (async def)", "first (def)"]


def test_teardown_past_the_shutdown_budget_is_cut_short(caplog: pytest.LogCaptureFixture):
    warmup = Warmup(settings=Settings())
    gate = threading.Event()

    @warmup.init
    def slow() -> Iterator[str]:
        yield "slow"
        gate.wait(10)  # a blocking close that outlasts the budget

    settle(slow)
    started = time.perf_counter()
    try:
        with caplog.at_level(logging.WARNING, logger="lambda_warmup"):
            assert warmup.close(timeout=0.1) is False
    finally:
        gate.set()
    assert time.perf_counter() - started < 2, "bounded: the worker thread was left behind"
    assert not warmup._loop.running
    assert (
        "shutdown cut short after 0.1 s (WARMUP_SHUTDOWN_TIMEOUT): cancelled the teardown of "
        "init 'slow'"
    ) in caplog.text


def test_a_failed_attempt_is_retried_with_a_new_generator():
    warmup = Warmup(settings=Settings())
    events: list[str] = []

    @warmup.init(retries=1, backoff=0)
    def flaky() -> Iterator[int]:
        events.append("open")
        if events.count("open") == 1:
            raise ConnectionError("throttled")
        yield len(events)
        events.append("close")

    assert flaky.result(5) == 2
    assert flaky.attempts == 2
    assert warmup.close(timeout=5) is True
    assert events == ["open", "open", "close"]


def test_sync_generator_init_awaits_another_init_with_result(warmup: Warmup):
    @warmup.init
    async def region() -> str:
        await anyio.sleep(0.01)
        return "eu-west-1"

    @warmup.init
    def client() -> Iterator[str]:
        yield f"client({region.result(5)})"

    assert client.result(5) == "client(eu-west-1)"


# -- the same treatment as an async def that yields ------------------------------------------
type Declare = Callable[[Warmup, Callable[[str], None]], InitHandle[Any]]


def _never_yields_def(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    def broken() -> Iterator[int]:
        note("ran")
        yield from ()

    return broken


def _never_yields_async(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    async def broken() -> AsyncIterator[int]:
        note("ran")
        nothing: list[int] = []
        for item in nothing:
            yield item

    return broken


@pytest.mark.parametrize("declare", [_never_yields_def, _never_yields_async], ids=["def", "async"])
def test_generator_that_never_yields_fails_saying_so(warmup: Warmup, declare: Declare):
    notes: list[str] = []
    broken = declare(warmup, notes.append)

    @warmup.handler
    def handler(event: object, context: object) -> str:
        return "never"

    settle(broken)
    assert notes == ["ran"]
    assert broken.state == "failed"
    message = (
        "init 'broken' ended without yielding its value; a generator init yields once (the "
        "value), and the code after the yield runs at shutdown"
    )
    assert isinstance(broken.error, RuntimeError)
    assert str(broken.error) == message
    with pytest.raises(InitFailedError, match=r"'broken': RuntimeError: init 'broken' ended"):
        bounded(lambda: handler({}, FakeContext()))


def _yields_twice_def(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    def twice() -> Iterator[int]:
        try:
            yield 1
            note("after the first yield")
            yield 2
            note("never")
        finally:
            note("finally")

    return twice


def _yields_twice_async(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    async def twice() -> AsyncIterator[int]:
        try:
            yield 1
            note("after the first yield")
            yield 2
            note("never")
        finally:
            note("finally")

    return twice


@pytest.mark.parametrize("declare", [_yields_twice_def, _yields_twice_async], ids=["def", "async"])
def test_generator_that_yields_twice_is_logged_and_closed(
    declare: Declare, caplog: pytest.LogCaptureFixture
):
    warmup = Warmup(settings=Settings())
    notes: list[str] = []
    twice = declare(warmup, notes.append)

    assert twice.result(5) == 1
    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        assert warmup.close(timeout=5) is True
    assert notes == ["after the first yield", "finally"]
    assert "lambda-warmup: init 'twice' yields more than once" in caplog.messages


def _teardown_raises_def(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("socket already closed")

    return broken


def _teardown_raises_async(warmup: Warmup, note: Callable[[str], None]) -> InitHandle[Any]:
    @warmup.init
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise OSError("socket already closed")

    return broken


@pytest.mark.parametrize(
    "declare", [_teardown_raises_def, _teardown_raises_async], ids=["def", "async"]
)
def test_teardown_that_raises_is_logged_and_the_others_still_run(
    declare: Declare, caplog: pytest.LogCaptureFixture
):
    warmup = Warmup(settings=Settings())
    closed: list[str] = []

    @warmup.init
    def earlier() -> Iterator[int]:
        yield 0
        closed.append("earlier")

    broken = declare(warmup, closed.append)
    settle(earlier)
    settle(broken)
    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        assert warmup.close(timeout=5) is True
    assert closed == ["earlier"]
    [record] = [r for r in caplog.records if "teardown of init 'broken' failed" in r.message]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], OSError)


# -- at Lambda's SHUTDOWN, in a process of its own -------------------------------------------
_SIGTERM_SCRIPT = """
import os, signal, threading, time
from lambda_warmup import Settings, Warmup

warmup = Warmup(settings=Settings(in_lambda=True, shutdown_timeout=1.0))

@warmup.init
def pool():
    yield "pool"
    name = threading.current_thread().name
    print("teardown pool in", "the loop thread" if name == "lambda-warmup-loop" else
          "the main thread" if name == "MainThread" else "a worker thread", flush=True)

print(pool.result(5), flush=True)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(5)
print("not reached", flush=True)
"""


def test_teardown_runs_at_sigterm_in_a_worker_thread(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _SIGTERM_SCRIPT],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.splitlines() == ["pool", "teardown pool in a worker thread"]
    assert result.returncode == -15, result.stderr
