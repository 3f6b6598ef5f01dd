"""@warm_init: concurrency, dependencies, cycles, timeouts, retries, sync inits, handles."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from lambda_warmup import (
    InitCycleError,
    InitFailedError,
    InitNotReadyError,
    InitTimeoutError,
    InitWaitTimeoutError,
    SettingsError,
    Warmup,
)
from tests.support.library import settle


def test_inits_overlap(warmup: Warmup):
    started: list[str] = []

    everyone_started = threading.Event()

    async def all_started() -> None:
        # Each init finishes only once every init has started: run one after another, they
        # would never all start, and the bound fails the test.
        if len(started) == 3:
            everyone_started.set()
        assert await anyio.to_thread.run_sync(everyone_started.wait, 5), "inits did not overlap"

    def make(name: str):
        async def init() -> str:
            started.append(name)
            await all_started()
            return name

        init.__qualname__ = name
        return warmup.init(init)

    handles = [make(name) for name in ("a", "b", "c")]
    for handle in handles:
        assert handle.result(10) == handle.name
    last_start = max(h.started_at or 0 for h in handles)
    first_finish = min(h.finished_at or 0 for h in handles)
    assert last_start < first_finish


def test_dependency_by_await(warmup: Warmup):
    @warmup.init
    async def settings() -> dict[str, str]:
        await anyio.sleep(0.01)
        return {"dsn": "postgres://x"}

    @warmup.init
    async def pool() -> str:
        config = await settings
        return config["dsn"] + "/pool"

    assert pool.result(5) == "postgres://x/pool"
    assert settings.finished_at is not None
    assert pool.finished_at is not None
    assert settings.finished_at <= pool.finished_at


def test_init_awaiting_itself_fails_clearly(warmup: Warmup):
    holder: dict[str, object] = {}
    bound = threading.Event()

    @warmup.init
    async def selfish() -> None:
        await anyio.to_thread.run_sync(bound.wait, 5)
        await holder["me"]  # type: ignore[misc]

    holder["me"] = selfish
    bound.set()
    settle(selfish)
    assert isinstance(selfish.error, InitCycleError)
    assert "init 'selfish' awaits its own handle" in str(selfish.error)
    with pytest.raises(InitFailedError, match="selfish"):
        _ = selfish.value


def test_cycle_of_two_fails_both_without_hanging(warmup: Warmup):
    handles: dict[str, object] = {}
    bound = threading.Event()

    @warmup.init
    async def a() -> None:
        await anyio.to_thread.run_sync(bound.wait, 5)
        await handles["b"]  # type: ignore[misc]

    @warmup.init
    async def b() -> None:
        await anyio.to_thread.run_sync(bound.wait, 5)
        await anyio.sleep(0.01)  # let 'a' start waiting first
        await handles["a"]  # type: ignore[misc]

    handles.update(a=a, b=b)
    bound.set()
    settle(a)
    settle(b)
    errors = [a.error, b.error]
    cycle_errors = [e for e in errors if isinstance(e, InitCycleError)]
    assert len(cycle_errors) == 1
    assert "b -> a -> b" in str(cycle_errors[0])
    # The other one fails because the init it awaited failed, and says so.
    assert any(isinstance(e, InitFailedError) and "failed" in str(e) for e in errors)


def test_timeout_message_names_init_and_limit(warmup: Warmup):
    @warmup.init(timeout=0.05)
    async def slow() -> None:
        await anyio.sleep_forever()

    settle(slow)
    assert isinstance(slow.error, InitTimeoutError)
    assert str(slow.error) == "init 'slow' timed out after 0.05 s"
    with pytest.raises(InitTimeoutError, match="init 'slow' failed: InitTimeoutError"):
        slow.result(1)


def test_timeout_error_raised_by_the_init_is_not_ours(warmup: Warmup):
    @warmup.init(timeout=5)
    async def own_timeout() -> None:
        raise TimeoutError("upstream")

    settle(own_timeout)
    assert type(own_timeout.error) is TimeoutError


def test_retry_then_success_is_logged(warmup: Warmup, caplog: pytest.LogCaptureFixture):
    calls: list[int] = []

    @warmup.init(retries=2, backoff=0.001)
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("refused")
        return "connected"

    with caplog.at_level(logging.WARNING, logger="lambda_warmup"):
        assert flaky.result(5) == "connected"
    assert flaky.attempts == 2
    assert [r.getMessage() for r in caplog.records] == [
        "lambda-warmup: init 'flaky' attempt 1 of 3 failed (ConnectionError: refused); "
        "retrying in 0.00 s"
    ]


def test_retries_exhausted(warmup: Warmup, caplog: pytest.LogCaptureFixture):
    @warmup.init(retries=1, backoff=0)
    async def broken() -> None:
        raise ValueError("bad dsn")

    with caplog.at_level(logging.ERROR, logger="lambda_warmup"):
        settle(broken)
    assert broken.attempts == 2
    assert str(broken.error) == "bad dsn"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    (record,) = errors
    assert record.getMessage() == (
        "lambda-warmup: required init 'broken' failed after 2 attempt(s) in "
        f"{broken.duration * 1000:.1f} ms: ValueError: bad dsn"  # type: ignore[operator]
    )
    assert record.exc_info is not None  # the traceback is in the log, once


def test_sync_init_runs_in_a_worker_thread(warmup: Warmup):
    @warmup.init
    def boto_client() -> str:
        return threading.current_thread().name

    name = boto_client.result(5)
    assert name != threading.current_thread().name
    assert name != "lambda-warmup-loop"


def test_sync_init_depends_on_async_init(warmup: Warmup):
    @warmup.init
    async def region() -> str:
        return "eu-west-1"

    @warmup.init
    def client() -> str:
        return f"client({region.result(5)})"

    assert client.result(5) == "client(eu-west-1)"


def test_handle_states_and_value_before_done(warmup: Warmup):
    gate = threading.Event()

    @warmup.init
    async def gated() -> int:
        await anyio.to_thread.run_sync(gate.wait, 5)
        return 7

    assert not gated.done()
    with pytest.raises(InitNotReadyError, match="init 'gated' has not finished yet"):
        _ = gated.value
    with pytest.raises(InitWaitTimeoutError, match="init 'gated' still running"):
        gated.result(timeout=0.01)
    gate.set()
    assert gated.result(5) == 7
    assert gated.done()
    assert gated.ok()
    assert gated.state == "ok"
    assert gated.value == 7
    assert gated.duration is not None
    assert gated.duration > 0


def test_result_on_the_warm_loop_says_await(warmup: Warmup):
    @warmup.init
    async def value() -> int:
        return 1

    @warmup.init
    async def misuse() -> int:
        return value.result(1)

    settle(misuse)
    assert isinstance(misuse.error, RuntimeError)
    assert "await the handle instead" in str(misuse.error)


@pytest.mark.asyncio
async def test_await_from_another_loop_says_where(warmup: Warmup):
    @warmup.init
    async def value() -> int:
        return 1

    settle(value)

    with pytest.raises(RuntimeError, match="only be awaited on the warm loop"):
        await value


def test_options_are_keyword_only(warmup: Warmup):
    with pytest.raises(TypeError, match=r"keyword-only, e\.g\. @warm_init\(timeout=5\.0\)"):
        warmup.init(5)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"timeout": -1},
            "warm_init: timeout=-1 is not a timeout; use a number of seconds above 0, "
            "e.g. timeout=5.0, or timeout=None for no timeout",
        ),
        (
            {"timeout": 0},
            "warm_init: timeout=0 is not a timeout; use a number of seconds above 0, "
            "e.g. timeout=5.0, or timeout=None for no timeout",
        ),
        (
            {"timeout": "5s"},
            "warm_init: timeout='5s' is not a timeout; use a number of seconds above 0, "
            "e.g. timeout=5.0, or timeout=None for no timeout",
        ),
        (
            {"retries": -1},
            "warm_init: retries=-1 is not a count of retries; use a whole number of 0 or more, "
            "e.g. retries=2",
        ),
        (
            {"retries": 1.5},
            "warm_init: retries=1.5 is not a count of retries; use a whole number of 0 or more, "
            "e.g. retries=2",
        ),
        (
            {"backoff": -0.5},
            "warm_init: backoff=-0.5 is not a delay; use a number of seconds of 0 or more, "
            "e.g. backoff=0.5",
        ),
        (
            {"backoff": float("nan")},
            "warm_init: backoff=nan is not a delay; use a number of seconds of 0 or more, "
            "e.g. backoff=0.5",
        ),
    ],
)
def test_bad_option_is_one_settings_error_line(warmup: Warmup, options, message):
    with pytest.raises(SettingsError) as caught:
        warmup.init(**options)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)  # as documented: SettingsError is a ValueError
    assert warmup.handles == ()
    assert not warmup._loop.running  # nothing was declared, nothing started


def test_options_at_their_bounds_are_accepted(warmup: Warmup):
    @warmup.init(timeout=0.5, retries=0, backoff=0)
    async def bounded() -> int:
        return 1

    assert bounded.result(5) == 1


def test_name_option_and_default_timeout_from_settings():
    from lambda_warmup import Settings

    warmup = Warmup(settings=Settings(init_timeout=0.05))
    try:

        @warmup.init(name="db")
        async def hangs() -> None:
            await anyio.sleep_forever()

        @warmup.init(timeout=None)  # explicit None beats the setting: no timeout
        async def unbounded() -> None:
            await anyio.sleep_forever()

        settle(hangs)
        assert hangs.name == "db"
        assert isinstance(hangs.error, InitTimeoutError)
        assert unbounded.timeout is None
        assert not unbounded.done()
    finally:
        warmup.close(timeout=1)


def test_async_generator_init_tears_down_at_close():
    warmup = Warmup()
    events: list[str] = []

    @warmup.init
    async def pool():
        events.append("open")
        yield "pool"
        events.append("closed")

    assert pool.result(5) == "pool"
    assert events == ["open"]
    warmup.close(timeout=5)
    assert events == ["open", "closed"]
