"""Inits that fail, hang, retry, finish late, depend on a failure, or come by the thousand."""

from __future__ import annotations

import re

import pytest

from tests.support.faults import MakeRun, Run

from .matrix import row

pytestmark = pytest.mark.e2e

HOLD = {"WARMING_TIMEOUT": "5s"}


def _error(run: Run, result_index: int = -1) -> tuple[str, str]:
    result = run.sandbox.invocations[result_index]
    assert result.status == "error", (result, run.output())
    payload = result.json()
    return payload["errorType"], payload["errorMessage"]


@row(
    "Init",
    "an init raises",
    "`InitFailedError: required init(s) failed: 'db': RuntimeError: connection refused` (the "
    "init's exception is the `__cause__`), at every invocation until a retry succeeds",
    "function: `lambda-warmup: required init 'db' failed after 1 attempt(s) in N ms: "
    "RuntimeError: connection refused` with its traceback; extension: `released after N ms: "
    "report failed from pid P: db failed after 1 attempt (N ms): RuntimeError: ...`",
)
def test_init_raises(fault: MakeRun) -> None:
    run = fault(
        """
        import os
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def db():
            raise RuntimeError("connection refused")

        @warm_handler
        def handler(event, context):
            return db.value
        """,
        env=HOLD,
    )
    assert run.start().status == "success"
    released = run.released()
    assert "report failed from pid" in released
    assert "db failed after 1 attempt" in released
    assert "RuntimeError: connection refused" in released
    for _ in range(2):
        run.invoke()
        assert _error(run) == (
            "InitFailedError",
            "required init(s) failed: 'db': RuntimeError: connection refused",
        )
    failures = run.fn("lambda-warmup: required init 'db' failed after 1 attempt(s)")
    assert len(failures) == 3, run.output()  # INIT, then the retry at each invocation
    assert all(line.endswith("RuntimeError: connection refused") for line in failures)
    assert run.fn('raise RuntimeError("connection refused")'), "the traceback is in the log"


HANG_APP = """
    import anyio, os, time
    from lambda_warmup import warm_handler, warm_init

    @warm_init{options}
    {kind} hang():
        {sleep}(3600)
        return os.environ["SECRET"]

    @warm_handler
    def handler(event, context):
        return len(hang.value)
"""


@row(
    "Init",
    "an init hangs forever, without a timeout of its own",
    "each invocation fails near its deadline: `InitWaitTimeoutError: gave up waiting for "
    "required init(s) 'hang' after 0.9 s, near the invocation's deadline; give the function a "
    "longer timeout, or set WARMING_TIMEOUT so that INIT waits for them`",
    "extension: `released after 500 ms: no report within WARMING_TIMEOUT=500ms`",
)
def test_init_hangs_forever(fault: MakeRun) -> None:
    app = HANG_APP.format(options="", kind="async def", sleep="await anyio.sleep")
    run = fault(app, env={"WARMING_TIMEOUT": "500ms"}, timeout_s=1.0)
    init = run.start()
    assert init.status == "success"
    assert 500 <= init.extensions_next_ms["lambda-warmup"] < 1500, init
    assert run.released().endswith(": no report within WARMING_TIMEOUT=500ms"), run.output()
    for _ in range(2):
        result = run.invoke()
        kind, message = _error(run)
        assert kind == "InitWaitTimeoutError", message
        assert re.match(
            r"gave up waiting for required init\(s\) 'hang' after 0\.[89]\d* s", message
        )
        assert "set WARMING_TIMEOUT so that INIT waits for them" in message
        assert result.duration_ms >= 850, result  # and, as an error, before Lambda's timeout
    assert len(run.fn("InitWaitTimeoutError: gave up waiting for required init(s) 'hang'")) == 2


@row(
    "Init",
    "an init hangs, with its own `timeout=0.3` (`async def`, or `def` in a thread)",
    "`InitFailedError: required init(s) failed: 'hang': InitTimeoutError: init 'hang' timed "
    "out after 0.3 s`, after the retry at the invocation also timed out",
    "function: `required init 'hang' failed after 1 attempt(s) in 300 ms: InitTimeoutError: "
    "...`; extension: `released after N ms: report failed from pid P: hang failed ...`",
)
@pytest.mark.parametrize("kind", ["async def", "def"])
def test_init_hangs_with_its_own_timeout(fault: MakeRun, kind: str) -> None:
    sleep = "await anyio.sleep" if kind == "async def" else "time.sleep"
    app = HANG_APP.format(options="(timeout=0.3)", kind=kind, sleep=sleep)
    run = fault(app, env=HOLD)
    init = run.start()
    assert init.status == "success"
    assert 300 <= init.extensions_next_ms["lambda-warmup"] < 1500, init
    released = run.released()
    assert "report failed from pid" in released, run.output()
    assert "InitTimeoutError: init 'hang' timed out after 0.3 s" in released
    result = run.invoke()
    assert _error(run) == (
        "InitFailedError",
        "required init(s) failed: 'hang': InitTimeoutError: init 'hang' timed out after 0.3 s",
    )
    assert 300 <= result.duration_ms < 2500, result
    assert len(run.fn("InitTimeoutError: init 'hang' timed out after 0.3 s")) >= 2


FLAKY_APP = """
    import os
    from lambda_warmup import warm_handler, warm_init

    calls = 0

    @warm_init{options}
    async def flaky():
        global calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database still starting")
        return os.environ["SECRET"]

    @warm_handler
    def handler(event, context):
        return {{"calls": calls, "length": len(flaky.value)}}
"""


@row(
    "Init",
    "an init fails once, then succeeds: with `retries=1` (during INIT), or without (at the "
    "first invocation)",
    "served from the first invocation",
    "function: `lambda-warmup: init 'flaky' attempt 1 of 2 failed (ConnectionError: database "
    "still starting); retrying in 0.10 s`, or without retries the failure with its traceback; "
    "extension: `report ok`, or without retries `report failed`",
)
@pytest.mark.parametrize("retries", [1, 0])
def test_init_fails_once_then_succeeds(fault: MakeRun, retries: int) -> None:
    options = f"(retries={retries})" if retries else ""
    run = fault(FLAKY_APP.format(options=options), env=HOLD)
    assert run.start().status == "success"
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == {"calls": 2, "length": 22}
    released = run.released()
    if retries:
        assert "report ok from pid" in released
        assert run.fn(
            "lambda-warmup: init 'flaky' attempt 1 of 2 failed (ConnectionError: database still "
            "starting); retrying in 0.10 s"
        ), run.output()
    else:
        assert "report failed from pid" in released
        assert run.fn("lambda-warmup: required init 'flaky' failed after 1 attempt(s) in"), (
            run.output()
        )


@row(
    "Init",
    "an init returns after the extension released INIT (`WARMING_TIMEOUT=200ms`, a 700 ms init)",
    "served; the first invocation waits for the rest of the init",
    "extension: `released after 200 ms: no report within WARMING_TIMEOUT=200ms`, then `late "
    "report ok from pid P, N ms after the release (...)`",
)
def test_init_returns_after_the_release(fault: MakeRun) -> None:
    run = fault(
        """
        import os, time
        import anyio
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def slow():
            for _ in range(70):  # 700 ms of loop time, in steps: none run while frozen
                await anyio.sleep(0.01)
            return os.environ["SECRET"]

        @warm_handler
        async def handler(event, context):
            await anyio.sleep(event.get("sleep", 0))
            return len(slow.value)
        """,
        env={"WARMING_TIMEOUT": "200ms"},
    )
    init = run.start()
    assert init.status == "success"
    assert 200 <= init.extensions_next_ms["lambda-warmup"] < 700, init
    released = run.released()
    assert "no report within WARMING_TIMEOUT=200ms" in released, run.output()
    result = run.invoke({"sleep": 0.3})  # and time for the late report
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == 22
    assert result.duration_ms >= 300
    run.wait_line("late report ok from pid")


@row(
    "Init",
    "an init awaits an init that failed",
    "`InitFailedError: required init(s) failed: 'settings': KeyError: 'API_URL'; 'client': "
    "InitFailedError: init 'settings' failed: KeyError: 'API_URL'`",
    "function: both failures with tracebacks; extension: `report failed from pid P: settings "
    "failed after 1 attempt (N ms): KeyError: 'API_URL', client failed ...`",
)
def test_init_depends_on_a_failed_init(fault: MakeRun) -> None:
    run = fault(
        """
        import os
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def settings():
            return os.environ["API_URL"]

        @warm_init
        async def client():
            return {"url": await settings}

        @warm_handler
        def handler(event, context):
            return client.value
        """,
        env=HOLD,
    )
    assert run.start().status == "success"
    released = run.released()
    assert "settings failed after 1 attempt" in released
    assert "client failed after 1 attempt" in released
    run.invoke()
    assert _error(run) == (
        "InitFailedError",
        "required init(s) failed: 'settings': KeyError: 'API_URL'; 'client': InitFailedError: "
        "init 'settings' failed: KeyError: 'API_URL'",
    )


@row(
    "Init",
    "an optional init (`required=False`) fails",
    "served; reading its `.value` raises `InitFailedError` naming it",
    "function: `lambda-warmup: optional init 'cache' failed after 1 attempt(s) ...`; extension: "
    "`report ok` (the failure is listed)",
)
def test_optional_init_fails(fault: MakeRun) -> None:
    run = fault(
        """
        from lambda_warmup import warm_handler, warm_init

        @warm_init(required=False)
        async def cache():
            raise TimeoutError("redis unreachable")

        @warm_handler
        def handler(event, context):
            return {"cache": cache.ok()}
        """,
        env=HOLD,
    )
    assert run.start().status == "success"
    released = run.released()
    assert "report ok from pid" in released, run.output()
    assert "cache (optional) failed after 1 attempt" in released
    result = run.invoke()
    assert result.status == "success", result.payload
    assert result.json() == {"cache": False}
    assert run.fn("lambda-warmup: optional init 'cache' failed after 1 attempt(s)")


@row(
    "Init",
    "inits that await each other in a cycle",
    "`InitFailedError` naming both, each caused by `InitCycleError: ... a -> b -> a`",
    "function: both failures; extension: `report failed`, released at once",
)
def test_init_cycle(fault: MakeRun) -> None:
    run = fault(
        """
        import anyio
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def a():
            await anyio.sleep(0.05)
            return await b

        @warm_init
        async def b():
            return await a

        @warm_handler
        def handler(event, context):
            return a.value
        """,
        env=HOLD,
    )
    assert run.start().status == "success"
    assert "report failed from pid" in run.released(), run.output()
    run.invoke()
    kind, message = _error(run)
    assert kind == "InitFailedError", message
    assert "InitCycleError" in message
    assert "a -> b -> a" in message or "b -> a -> b" in message


MANY = 2000


@row(
    "Init",
    f"very many inits ({MANY})",
    "served",
    "extension: `released after N ms: report ok from pid P (init_0000 N ms, ..., and 1990 "
    "more)`; the report lists as many inits as fit in 64 KiB, failed ones first",
)
def test_very_many_inits(fault: MakeRun) -> None:
    run = fault(
        f"""
        import anyio
        from lambda_warmup import warm_handler, warm_init

        handles = []
        for index in range({MANY}):
            async def init(index=index):
                await anyio.sleep(0.01)
                return index
            handles.append(warm_init(name=f"init_{{index:04d}}")(init))

        @warm_handler
        def handler(event, context):
            return sum(handle.value for handle in handles)
        """,
        env=HOLD,
    )
    init = run.start()
    assert init.status == "success", (init, run.output())
    released = run.released()
    assert "report ok from pid" in released, run.output()
    assert released.endswith(f"and {MANY - 10} more)"), released
    assert len(released) < 1000
    assert not run.ext("rejected"), run.output()
    result = run.invoke()
    assert result.status == "success", result.payload
    assert result.json() == MANY * (MANY - 1) // 2


@row(
    "Init",
    "an init raises `SystemExit` (a library calls `sys.exit`; `async def`, or `def` in a thread)",
    "`InitFailedError: required init(s) failed: 'bad': SystemExit: config missing`; the other "
    "inits and the warm loop carry on",
    "function: `lambda-warmup: required init 'bad' failed after 1 attempt(s) in N ms: "
    "SystemExit: config missing` with its traceback; extension: `report failed from pid P: "
    "... bad failed after 1 attempt (N ms): SystemExit: config missing`",
)
@pytest.mark.parametrize("kind", ["async def", "def"])
def test_init_raises_system_exit(fault: MakeRun, kind: str) -> None:
    run = fault(
        f"""
        import sys
        import anyio
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def other():
            await anyio.sleep(0.2)
            return 1

        @warm_init
        {kind} bad():
            sys.exit("config missing")

        @warm_handler
        async def handler(event, context):
            return {{"other": await other, "bad": bad.state}}
        """,
        env=HOLD,
    )
    assert run.start().status == "success"
    released = run.released()
    assert "report failed from pid" in released, run.output()
    assert "bad failed after 1 attempt" in released
    assert "SystemExit: config missing" in released
    assert "other " in released, "the other init was not cut short"
    run.invoke()
    assert _error(run) == (
        "InitFailedError",
        "required init(s) failed: 'bad': SystemExit: config missing",
    )
    assert run.fn("lambda-warmup: required init 'bad' failed after 1 attempt(s) in")
    assert not run.has("portal is not running"), run.output()


@row(
    "Init",
    "an `async def` init makes a blocking call (`time.sleep(1.5)`, as a sync SDK call would)",
    "served: the module's import goes on (declaring an init never waits for the loop), INIT ends "
    "with the hold and the first invocation waits for the rest. A call that never returns fails "
    "each invocation near its deadline (next row)",
    "extension: `released after 500 ms: no report within WARMING_TIMEOUT=500ms`; function: the "
    "`InitWaitTimeoutError` with the loop thread's place (`blocking (…app.py:N)`)",
)
def test_init_blocks_the_loop(fault: MakeRun) -> None:
    run = fault(
        """
        import os, time
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def blocking():
            time.sleep(1.5)  # blocks the warm loop
            return os.environ["SECRET"]

        @warm_init
        async def second():
            return 2

        @warm_handler
        def handler(event, context):
            return len(blocking.value) + second.value
        """,
        env={"WARMING_TIMEOUT": "500ms"},
    )
    init = run.start()
    assert init.status == "success", (init, run.output())
    assert "no report within WARMING_TIMEOUT=500ms" in run.released()
    assert init.runtime_next_ms is not None
    assert init.runtime_next_ms < 1500, init  # the import did not wait for the blocked loop
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == 24


@row(
    "Init",
    "an `async def` init makes a blocking call that outlasts the invocation (`time.sleep(30)`)",
    "`InitWaitTimeoutError: the warm loop did not answer within 0.97 s: it is blocked, most "
    "likely by a blocking call in an async init …; the loop thread is at blocking (…)`, 0.03 s "
    "before Lambda's timeout",
    "function: the error with its traceback; extension: `released after 300 ms: no report …`",
)
def test_init_blocking_for_ever_fails_the_invocation_naming_it(fault: MakeRun) -> None:
    run = fault(
        """
        import time
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def blocking():
            time.sleep(30)  # a blocking call on the warm loop that outlasts the invocation

        @warm_handler
        def handler(event, context):
            return "never"
        """,
        env={"WARMING_TIMEOUT": "300ms"},
        timeout_s=1.0,
    )
    init = run.start()
    assert init.status == "success", (init, run.output())
    result = run.invoke()
    assert result.status == "error", (result.payload, run.output())
    payload = result.json()
    assert payload["errorType"] == "InitWaitTimeoutError", payload
    assert payload["errorMessage"].startswith("the warm loop did not answer within"), payload
    assert "blocking (" in payload["errorMessage"], payload


@row(
    "Init",
    "no `@warm_init` at all: a `@warm_handler` module, `WARMING_TIMEOUT=5s`",
    "served; INIT ends right after the module's import, not after `WARMING_TIMEOUT`",
    "extension: `released after N ms: report ok from pid P ()` (a report with no inits)",
)
def test_handler_without_inits_releases_the_hold(fault: MakeRun) -> None:
    run = fault(
        """
        from lambda_warmup import warm_handler

        @warm_handler
        def handler(event, context):
            return "served"
        """,
        env={"WARMING_TIMEOUT": "5s"},
    )
    init = run.start()
    assert init.status == "success", (init, run.output())
    assert init.duration_ms < 2500, (init, run.output())  # not the 5 s hold
    assert "report ok from pid" in run.released(), run.output()
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == "served"
