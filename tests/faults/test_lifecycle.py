"""The lifecycle around the hold: the INIT limit, freeze and thaw, SHUTDOWN, deadlines.

The on-demand 10 s INIT limit is shrunk to 1.5 s on both sides (the sandbox's
``on_demand_init_limit_s`` and the extension's test-only ``_WARMUP_INIT_LIMIT_MS``), so no test
waits 10 s.
"""

from __future__ import annotations

import time

import pytest

from tests.support.faults import MakeRun

from .matrix import row

pytestmark = pytest.mark.e2e

#: An init of INIT_STEPS x 10 ms of loop time; none of the steps run while the sandbox is frozen.
STEPPED_APP = """
    import os, time
    import anyio
    from lambda_warmup import warm_handler, warm_init

    @warm_init
    async def stepped():
        for _ in range(int(os.environ["INIT_STEPS"])):
            await anyio.sleep(0.01)
        return os.environ["SECRET"]

    @warm_handler
    async def after_inits(event, context):
        await stepped
        time.sleep(event.get("block", 0))  # blocks the runtime: a timeout, on purpose
        if event.get("exit"):
            os._exit(event["exit"])
        return {}

    def handler(event, context):
        done_on_entry = stepped.done()
        return {**after_inits(event, context), "done_on_entry": done_on_entry}
"""


@row(
    "Lifecycle",
    "INIT past the on-demand limit (`WARMING_TIMEOUT=60s`, inits of 2.5 s, limit shrunk to 1.5 s)",
    "served: INIT ends on the budget (limit - 0.5 s), without a suppressed re-init; the first "
    "invocation waits for the rest of the inits",
    "extension: `hold started: up to N ms (WARMING_TIMEOUT=60s cut to the on-demand INIT limit "
    "1500 ms, budget 1000 ms from process start; ...)`, `released after N ms: INIT budget "
    "reached, 1000 ms after process start, no report`, then `late report ok`",
)
def test_init_past_the_on_demand_limit(fault: MakeRun) -> None:
    run = fault(
        STEPPED_APP,
        env={"INIT_STEPS": "250", "WARMING_TIMEOUT": "60s", "_WARMUP_INIT_LIMIT_MS": "1500"},
        on_demand_init_limit_s=1.5,
        timeout_s=5.0,
    )
    init = run.start()
    assert init.status == "success", (init, run.output())
    assert 900 <= init.duration_ms < 1500, init
    assert "cut to the on-demand INIT limit 1500 ms, budget 1000 ms" in run.ext("hold started")[0]
    assert "INIT budget reached, 1000 ms after process start, no report" in run.released()
    time.sleep(0.3)  # frozen: the init makes no progress
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.suppressed_init is None
    assert result.json() == {"done_on_entry": False}
    assert result.duration_ms >= 2500 - init.duration_ms - 300, (result, init)
    assert not run.has("Status: timeout"), run.output()
    run.invoke()  # thawed again: the late report has been sent by now
    run.wait_line("late report ok from pid")


@row(
    "Lifecycle",
    "frozen with an init pending (no hold), then thawed",
    "served: the init resumes on thaw, and the first invocation waits for what is left",
    "extension: `no hold: WARMING_TIMEOUT is unset`",
)
def test_freeze_with_init_pending(fault: MakeRun) -> None:
    run = fault(STEPPED_APP, env={"INIT_STEPS": "150"}, timeout_s=5.0)
    init = run.start()
    assert init.status == "success"
    assert init.duration_ms < 1500, init  # INIT ended at the runtime's next, not with the init
    time.sleep(0.5)  # frozen: no step runs
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == {"done_on_entry": False}
    assert result.duration_ms >= 1500 - init.duration_ms - 150, (result, init)
    assert run.ext("no hold: WARMING_TIMEOUT is unset")


@row(
    "Lifecycle",
    "SHUTDOWN during the hold: the platform's INIT limit (1 s here) runs out before the "
    "extension's budget (as when Lambda spent INIT time before starting extensions)",
    "served: INIT times out, the first invocation runs INIT again (suppressed init) and succeeds",
    "platform: `INIT_REPORT ... Phase: init Status: timeout`; the holding extension cannot hear "
    "SHUTDOWN and is killed at the end of the shutdown budget",
)
def test_shutdown_during_the_hold(fault: MakeRun) -> None:
    run = fault(
        STEPPED_APP,
        env={"INIT_STEPS": "150", "WARMING_TIMEOUT": "5s"},
        on_demand_init_limit_s=1.0,
        timeout_s=5.0,
    )
    run.ext_exits = {0, None}
    init = run.start()
    assert (init.status, init.waiting_for) == ("timeout", ["lambda-warmup: next"]), init
    assert run.has("Phase: init\tStatus: timeout"), run.output()
    shutdown = run.records("shutdown_end", reason="timeout")
    assert shutdown, run.sandbox.records
    assert shutdown[0]["returncodes"]["lambda-warmup"] == -9
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.suppressed_init is not None
    assert result.suppressed_init.status == "success"
    assert "report ok from pid" in run.released()


@row(
    "Lifecycle",
    "SHUTDOWN during an invocation: the invocation times out, or the runtime exits",
    "`Task timed out after 1.00 seconds` (or `Runtime.ExitError`); the next invocation runs "
    "INIT again and is served",
    "extension: `shutdown (timeout), N ms before its deadline; exiting` (or `(failure)`), exit 0",
)
@pytest.mark.parametrize(
    ("event", "status", "reason"),
    [
        ({"block": 3}, "timeout", "timeout"),
        ({"exit": 3}, "crash", "failure"),
    ],
)
def test_shutdown_during_an_invocation(
    fault: MakeRun, event: dict[str, int], status: str, reason: str
) -> None:
    run = fault(STEPPED_APP, env={"INIT_STEPS": "5", "WARMING_TIMEOUT": "5s"}, timeout_s=1.0)
    assert run.start().status == "success"
    result = run.invoke(event)
    assert result.status == status, (result, run.output())
    if status == "timeout":
        assert run.has("Task timed out after 1.00 seconds")
    else:
        assert result.error_type == "Runtime.ExitError"
    assert run.ext(f"shutdown ({reason}), "), run.output()
    assert run.ext_exit_codes() == [0]
    again = run.invoke()
    assert again.status == "success", (again.payload, run.output())
    assert again.suppressed_init is not None


@row(
    "Lifecycle",
    "the invocation's deadline comes while it waits for an init (no hold, a hanging init, "
    "`async def` or `def` handler)",
    "`InitWaitTimeoutError: gave up waiting for required init(s) 'stepped' after 0.9 s, near "
    "the invocation's deadline; ...`, 0.1 s before Lambda's `Task timed out`; the sandbox is "
    "not reset",
    "function: the error with its traceback (from the runtime)",
)
@pytest.mark.parametrize("handler", ["async def", "def"])
def test_deadline_while_waiting_for_init(fault: MakeRun, handler: str) -> None:
    run = fault(
        f"""
        import os
        import anyio
        from lambda_warmup import warm_handler, warm_init

        @warm_init
        async def stepped():
            await anyio.sleep(3600)
            return os.environ["SECRET"]

        @warm_handler
        {handler} handler(event, context):
            return len(stepped.value)
        """,
        timeout_s=1.0,
    )
    assert run.start().status == "success"
    for _ in range(2):
        result = run.invoke()
        assert result.status == "error", (result, run.output())
        assert result.error_type == "InitWaitTimeoutError"
        message = result.json()["errorMessage"]
        assert message.startswith("gave up waiting for required init(s) 'stepped' after 0."), (
            message
        )
        assert result.duration_ms < 1000
    assert not run.records("shutdown_start"), "the sandbox was reset"
