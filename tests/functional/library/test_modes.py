"""Shutdown hooks, SIGTERM, SnapStart hooks and the INIT re-run marker, on a real warm loop."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from lambda_warmup import AfterRestoreError, InitFailedError, Settings, Warmup
from lambda_warmup._lifecycle import InitMarker, rerun_warning
from tests.support.library import settle

REPO = Path(__file__).resolve().parents[3]


def test_shutdown_hooks_run_last_first_then_teardowns():
    warmup = Warmup(settings=Settings())
    order: list[str] = []

    @warmup.init
    async def pool():
        yield "pool"
        order.append("teardown pool")

    @warmup.on_shutdown
    async def first() -> None:
        await anyio.lowlevel.checkpoint()
        order.append("first")

    @warmup.on_shutdown
    def second() -> None:  # a def hook runs in a worker thread
        order.append("second")

    settle(pool)
    assert warmup.close(timeout=5) is True
    assert order == ["second", "first", "teardown pool"]
    assert not warmup._loop.running


def test_shutdown_hooks_without_inits_run_once():
    warmup = Warmup(settings=Settings())
    calls: list[str] = []

    @warmup.on_shutdown
    async def flush() -> None:
        calls.append("flush")

    assert not warmup._loop.running  # no init: the loop starts only to run the hooks
    assert warmup.close(timeout=5) is True
    assert warmup.close(timeout=5) is True
    assert calls == ["flush"]
    assert not warmup._loop.running


def test_failing_shutdown_hook_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
):
    warmup = Warmup(settings=Settings())
    order: list[str] = []

    @warmup.init
    async def pool():
        yield "pool"
        order.append("teardown pool")

    @warmup.on_shutdown
    async def broken() -> None:
        raise RuntimeError("flush failed")

    settle(pool)
    assert warmup.close(timeout=5) is True
    assert order == ["teardown pool"]
    assert "shutdown hook 'broken' failed: RuntimeError: flush failed" in caplog.text


@pytest.mark.parametrize("stuck", ["hook", "teardown"])
def test_shutdown_past_its_budget_is_cut_short_and_logged(
    stuck: str, caplog: pytest.LogCaptureFixture
):
    warmup = Warmup(settings=Settings())

    @warmup.init
    async def pool():
        yield "pool"
        if stuck == "teardown":
            await anyio.sleep(60)

    @warmup.on_shutdown
    async def flush() -> None:
        if stuck == "hook":
            await anyio.sleep(60)

    settle(pool)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="lambda_warmup"):
        assert warmup.close(timeout=0.1) is False
    assert time.perf_counter() - started < 2, "bounded, the loop stopped"
    assert not warmup._loop.running
    what = "shutdown hook 'flush'" if stuck == "hook" else "teardown of init 'pool'"
    assert f"shutdown cut short after 0.1 s (WARMUP_SHUTDOWN_TIMEOUT): cancelled the {what}" in (
        caplog.text
    )


_SIGTERM_SCRIPT = """
import os, signal, sys, time
from lambda_warmup import Settings, Warmup

if sys.argv[1] == "user":
    def user(signum, frame):
        print("user handler", flush=True)
    signal.signal(signal.SIGTERM, user)

warmup = Warmup(settings=Settings(in_lambda=True, shutdown_timeout=1.0))

@warmup.init
async def pool():
    yield "pool"
    print("teardown pool", flush=True)

@warmup.on_shutdown
def flush():
    print("flushed", flush=True)

pool.result(5)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(0.5)
print("still running", flush=True)
"""


@pytest.mark.parametrize("previous", ["default", "user"])
def test_sigterm_runs_close_then_chains_to_the_previous_handler(previous: str, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-c", _SIGTERM_SCRIPT, previous],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    if previous == "default":  # ends as SIGTERM would have, after the cleanup
        assert result.stdout.splitlines() == ["flushed", "teardown pool"]
        assert result.returncode == -15
    else:  # the user's handler runs too, and decides (here: carry on)
        assert result.stdout.splitlines() == [
            "flushed",
            "teardown pool",
            "user handler",
            "still running",
        ]
        assert result.returncode == 0, result.stderr


_BLOCKED_MAIN_SCRIPT = """
import os, signal, sys, threading, time
from lambda_warmup import Settings, Warmup

warmup = Warmup(settings=Settings(in_lambda=True, shutdown_timeout=1.0))

@warmup.init
async def pool():
    yield "pool"
    print("teardown pool", flush=True)

pool.result(5)
# The main thread cannot run the handler, as when stuck in C code that retries on EINTR: it
# blocks SIGTERM, and is inside a C call (sleep) when the signal comes.
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
time.sleep(5)
print("not reached", flush=True)
"""


def test_sigterm_runs_close_off_the_main_thread_when_main_cannot(tmp_path: Path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_MAIN_SCRIPT],
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.splitlines() == ["teardown pool"]
    assert "main thread is not running signal handlers" in result.stderr
    assert result.returncode == 143
    assert time.monotonic() - started < 4


_STUCK_SCRIPT = """
import os, signal, sys, threading, time
import anyio.to_thread
from lambda_warmup import Settings, Warmup

warmup = Warmup(settings=Settings(in_lambda=True, shutdown_timeout=1.0))

@warmup.init
def stuck():
    threading.Event().wait()  # a sync SDK call that never returns

@warmup.init
async def pool():
    await anyio.to_thread.run_sync(time.sleep, 0)  # anyio's worker threads are not daemons
    yield "pool"
    print("teardown pool", flush=True)

print(pool.result(5), flush=True)
if sys.argv[1] == "sigterm":
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(20)
print("exit", flush=True)
"""


@pytest.mark.parametrize("end", ["exit", "sigterm"])
def test_a_stuck_def_init_holds_up_neither_exit_nor_sigterm(end: str, tmp_path: Path):
    """A ``def`` init's thread is left behind when the loop closes: the teardowns run, and the
    process ends (a normal exit would otherwise join that thread for ever)."""
    try:
        result = subprocess.run(
            [sys.executable, "-W", "error", "-c", _STUCK_SCRIPT, end],
            env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=15,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"the process did not end at {end}: {error.stdout!r}") from None
    assert "init 'stuck' still running at shutdown" in result.stderr
    if end == "exit":
        assert result.stdout.splitlines() == ["pool", "exit", "teardown pool"]
        assert result.returncode == 0, result.stderr
    else:
        assert result.stdout.splitlines() == ["pool", "teardown pool"]
        assert result.returncode == -15, result.stderr


def test_before_snapshot_waits_for_every_init():
    warmup = Warmup(settings=Settings())

    @warmup.init
    async def slow() -> str:
        await anyio.sleep(0.2)
        return "done"

    warmup._before_snapshot()
    assert slow.done()
    assert slow.value == "done"
    warmup.close()


def test_before_snapshot_fails_on_a_failed_required_init():
    warmup = Warmup(settings=Settings())

    @warmup.init
    async def db() -> str:
        raise ConnectionError("refused")

    @warmup.init(required=False)
    async def optional() -> str:
        raise ConnectionError("refused too")

    expected = r"before the snapshot: 'db': ConnectionError"
    with pytest.raises(InitFailedError, match=expected) as info:
        warmup._before_snapshot()
    assert info.value.init_names == ("db",)
    warmup.close()


def test_after_restore_hooks_get_the_value_once_per_restore():
    warmup = Warmup(settings=Settings())
    seen: list[tuple[str, object]] = []

    @warmup.init
    async def pool() -> dict[str, int]:
        return {"connections": 1}

    @pool.after_restore
    async def reconnect(value: dict[str, int]) -> None:
        value["connections"] += 1
        seen.append(("async", value["connections"]))

    @pool.after_restore
    def refresh(value: dict[str, int]) -> None:
        seen.append(("sync", value["connections"]))

    warmup._before_snapshot()
    warmup._after_restore()
    assert seen == [("async", 2), ("sync", 2)]
    warmup._after_restore()
    assert pool.value == {"connections": 3}
    warmup.close()


def test_after_restore_failure_and_timeout_are_after_restore_errors():
    warmup = Warmup(settings=Settings(restore_timeout=0.1))

    @warmup.init
    async def creds() -> str:
        return "token"

    @warmup.init
    async def pool() -> str:
        return "pool"

    @creds.after_restore
    async def refresh(value: str) -> None:
        raise PermissionError("expired")

    warmup._before_snapshot()
    with pytest.raises(AfterRestoreError, match="'creds': PermissionError: expired") as info:
        warmup._after_restore()
    assert info.value.init_names == ("creds",)

    @pool.after_restore
    async def stuck(value: str) -> None:
        await anyio.sleep(60)

    with pytest.raises(AfterRestoreError, match=r"init\(s\) 'pool' still running after 0.1 s"):
        warmup._after_restore()
    warmup.close()


def test_init_marker_tells_a_rerun_from_a_first_init(tmp_path: Path):
    first = InitMarker("on-demand", str(tmp_path))
    assert first.begin() is None
    data = json.loads((tmp_path / "lambda-warmup-init.json").read_text())
    # As if written by another process whose INIT settled but never reached an invocation.
    data.update(pid=data["pid"] + 1, started=time.time() - 10.4, settled_ms=812.0)
    (tmp_path / "lambda-warmup-init.json").write_text(json.dumps(data))
    again = InitMarker("on-demand", str(tmp_path))
    previous = again.begin()
    assert previous is not None
    assert previous.settled_ms == 812.0
    warning = rerun_warning(previous, again.started, 640.0)
    assert "INIT is running again (Lambda's suppressed init" in warning
    assert "started 10.4 s earlier" in warning
    assert "its inits settled in 812 ms" in warning
    assert "this run's inits settled in 640 ms" in warning
    assert "lower WARMING_TIMEOUT" in warning
    # Once an invocation ran, a later INIT (after a crash) is not a re-run of INIT.
    again.invoked()
    data = json.loads((tmp_path / "lambda-warmup-init.json").read_text())
    data.update(pid=data["pid"] + 1)
    (tmp_path / "lambda-warmup-init.json").write_text(json.dumps(data))
    assert InitMarker("on-demand", str(tmp_path)).begin() is None
