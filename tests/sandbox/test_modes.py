"""Lambda's modes end to end in the sandbox, with the real library, extension and runtime.

Graceful shutdown (SIGTERM), provisioned concurrency, SnapStart and the INIT re-run warning: each
test asserts what a user sees (the function's lines, the platform's lines, the results).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.layers import RUNTIMES
from tests.support.sandboxes import FUNCTIONS, modes_sandbox

pytestmark = pytest.mark.e2e


def _runtime_exit(sandbox: Sandbox) -> dict[str, Any]:
    return next(
        r for r in sandbox.records if r["event"] == "process_exit" and r["kind"] == "runtime"
    )


def _log_t(sandbox: Sandbox, text: str) -> float:
    return float(
        next(
            r["t_ms"]
            for r in sandbox.records
            if r["event"] == "log" and r["source"] == "function" and text in r["line"]
        )
    )


# -- graceful shutdown ---------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sigterm_runs_shutdown_hooks_and_teardowns_before_exit(
    tmp_path: Path, runtime: str
) -> None:
    lines: list[str] = []
    sandbox = modes_sandbox(tmp_path, lines, env={"INIT_MS": "50"}, runtime=runtime)
    with sandbox:
        result = sandbox.invoke({})
        assert result.status == "success", lines
        assert result.json()["python"].startswith(runtime.removeprefix("python") + ".")
    # SHUTDOWN: SIGTERM to the runtime (an external extension is registered), 300 ms for it.
    hook = _log_t(sandbox, "shutdown hook: flushed")
    teardown = _log_t(sandbox, "teardown resource: closed")
    done = _log_t(sandbox, "lambda-warmup: SIGTERM: shutdown hooks and init teardowns done")
    exit_record = _runtime_exit(sandbox)
    # In order, after SHUTDOWN began. (Not "before the exit" by these clocks: a line's time is
    # when the sandbox read it from the pipe, which can follow the exit it saw; that the runtime
    # printed them at all, then ended by its own SIGTERM, says they came first.)
    start = next(r["t_ms"] for r in sandbox.records if r["event"] == "shutdown_start")
    assert start < hook < teardown < done, lines
    assert exit_record["returncode"] == -15, "ended by SIGTERM, as without a handler; not killed"
    assert not any("cut short" in line for line in lines)
    assert not any("INIT is running again" in line for line in lines)


def test_shutdown_cut_short_is_bounded_and_logged(tmp_path: Path) -> None:
    lines: list[str] = []
    env = {"INIT_MS": "50", "HOOK_SLEEP_S": "30", "WARMUP_SHUTDOWN_TIMEOUT": "100ms"}
    sandbox = modes_sandbox(tmp_path, lines, env=env)
    with sandbox:
        assert sandbox.invoke({}).status == "success", lines
    warning = next(line for line in lines if "shutdown cut short" in line)
    assert "after 0.1 s (WARMUP_SHUTDOWN_TIMEOUT)" in warning
    assert "shutdown hook 'flush'" in warning
    assert not any("shutdown hook: flushed" in line for line in lines)
    start = next(r["t_ms"] for r in sandbox.records if r["event"] == "shutdown_start")
    exit_record = _runtime_exit(sandbox)
    assert exit_record["returncode"] == -15, "the runtime exited itself, before Lambda's SIGKILL"
    assert exit_record["t_ms"] - start < 300, "within the runtime's 300 ms of the budget"


# -- provisioned concurrency ---------------------------------------------------------------


def test_provisioned_concurrency_first_request_pays_nothing_for_init(tmp_path: Path) -> None:
    lines: list[str] = []
    # The on-demand limits (the sandbox's and the extension's) are shrunk below the init's
    # 500 ms: provisioned concurrency is not bound by them, so the hold lasts the whole init.
    env = {"INIT_MS": "500", "_WARMUP_INIT_LIMIT_MS": "300"}
    sandbox = modes_sandbox(
        tmp_path,
        lines,
        env=env,
        init_type="provisioned-concurrency",
        on_demand_init_limit_s=0.3,
    )
    with sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert init.duration_ms >= 500, "INIT held until the init was done"
        time.sleep(0.2)  # frozen, as a provisioned environment waits for traffic
        first = sandbox.invoke({})
        assert first.status == "success", (first.payload, lines)
        out = first.json()
        assert out["done_on_entry"] is True
        assert out["finished_at"] <= out["entered_at"]
        assert first.init_duration_ms is None  # INIT is not part of any request
        assert first.duration_ms < 150, "the first request is about as fast as a warm one"
    report = next(line for line in lines if line.startswith("REPORT"))
    assert "Init Duration" not in report


# -- SnapStart -----------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("extension", [False, True], ids=["no-extension", "extension"])
def test_snapstart_snapshot_holds_finished_inits_and_restore_hooks_run_once(
    tmp_path: Path, extension: bool, runtime: str
) -> None:
    lines: list[str] = []
    env = {"INIT_MS": "300"}
    sandbox = modes_sandbox(
        tmp_path, lines, extension=extension, env=env, init_type="snap-start", runtime=runtime
    )
    with sandbox:
        init = sandbox.start()  # INIT ends at restore/next: the snapshot is taken then
        assert init.status == "success", lines
        assert init.duration_ms >= 300, "the before-snapshot hook waited for the init"
        assert any("lambda-warmup: before snapshot: 1 init(s) done" in line for line in lines)
        assert not any("after-restore resource" in line for line in lines)
        restored = sandbox.invoke({})
        assert restored.status == "success", (restored.payload, lines)
        assert restored.restore_duration_ms is not None
        out = restored.json()
        assert out["python"].startswith(runtime.removeprefix("python") + "."), out
        assert out["done_on_entry"] is True
        assert out["finished_at"] <= out["entered_at"]
        assert out["restores"] == 1
        warm = sandbox.invoke({})
        assert warm.json()["restores"] == 1
        assert warm.json()["seed"] == out["seed"]
    hook_lines = [line for line in lines if "after-restore resource: reconnected" in line]
    assert hook_lines == ["[function] after-restore resource: reconnected (1)"]


def test_snapstart_after_restore_hook_failure_is_an_after_restore_error(tmp_path: Path) -> None:
    lines: list[str] = []
    env = {"INIT_MS": "50", "FAIL_RESTORE": "1"}
    sandbox = modes_sandbox(tmp_path, lines, extension=False, env=env, init_type="snap-start")
    with sandbox:
        assert sandbox.start().status == "success", lines
        result = sandbox.invoke({})
    assert result.status == "error"
    assert result.error_type == "Runtime.AfterRestoreError"
    error = result.json()
    assert error["errorType"] == "AfterRestoreError"
    assert "'resource': ConnectionError: cannot reconnect after restore" in error["errorMessage"]


def test_snapstart_failed_init_fails_before_the_snapshot(tmp_path: Path) -> None:
    lines: list[str] = []
    env = {"INIT_MS": "50", "FAIL_INIT": "1"}
    sandbox = modes_sandbox(tmp_path, lines, extension=False, env=env, init_type="snap-start")
    with sandbox:
        init = sandbox.start()
    assert init.status == "error"
    assert init.error_type == "Runtime.BeforeSnapshotError"
    assert init.error is not None
    assert "failed before the snapshot: 'resource': ConnectionError" in init.error["errorMessage"]


# -- INIT re-run (suppressed init) ---------------------------------------------------------


def test_init_rerun_inside_the_first_invocation_is_one_warning(tmp_path: Path) -> None:
    lines: list[str] = []
    # The sandbox's on-demand INIT limit (10 s on Lambda) shrunk below the held init's 2.5 s,
    # but long enough for the runtime to reach its first @warm_init (which marks INIT as begun,
    # so that the re-run can tell): 0.3 s was not, once, on a busy host.
    sandbox = modes_sandbox(tmp_path, lines, env={"INIT_MS": "2500"}, on_demand_init_limit_s=1.5)
    with sandbox:
        init = sandbox.start()
        assert init.status == "timeout"
        result = sandbox.invoke({})
        assert result.status == "success", (result.payload, lines)
        assert result.suppressed_init is not None
        assert result.suppressed_init.phase == "invoke"
    warnings = [line for line in lines if "INIT is running again" in line]
    assert len(warnings) == 1, lines
    (warning,) = warnings
    assert "[WARNING]" in warning
    assert "its inits had not settled" in warning
    assert re.search(r"this run's inits settled in \d+ ms", warning)
    assert "lower WARMING_TIMEOUT" in warning


# -- Lambda Managed Instances --------------------------------------------------------------


def test_managed_instances_workers_each_init_and_report_then_serve_concurrently(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    workers = 3
    sandbox = modes_sandbox(
        tmp_path,
        lines,
        env={"INIT_MS": "300"},
        init_type="lambda-managed-instances",
        max_concurrency=workers,
    )
    with sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert init.duration_ms >= 300
        released = next(line for line in lines if "[lambda-warmup] released" in line)
        assert f"reports ok from all {workers} workers" in released, released
        settled = [line for line in lines if "init(s) settled" in line]
        assert len(settled) == workers, "each worker ran its own inits"
        # Each worker sent its stdout and stderr through the log socket, as on LMI.
        streams = [r for r in sandbox.records if r["event"] == "log_stream_open"]
        assert len(streams) == 2 * workers
        with ThreadPoolExecutor(workers) as pool:
            started = time.monotonic()
            results = list(pool.map(lambda _: sandbox.invoke({"sleep_ms": 300}), range(workers)))
            elapsed = time.monotonic() - started
        assert [r.status for r in results] == ["success"] * workers, [r.payload for r in results]
        outs = [r.json() for r in results]
        assert len({out["pid"] for out in outs}) == workers, "one worker process per request"
        assert all(out["done_on_entry"] for out in outs)
        assert {out["loop_thread"] for out in outs} == {"lambda-warmup-loop"}
        assert elapsed < 0.3 * workers, "the requests ran at the same time"
        assert not any(r["event"] == "freeze" for r in sandbox.records), "never frozen"
    # SHUTDOWN: every worker ran its cleanup on SIGTERM.
    teardowns = [line for line in lines if "teardown resource: closed" in line]
    assert len(teardowns) == workers, lines


def test_managed_instances_hold_never_outlasts_warming_timeout(tmp_path: Path) -> None:
    lines: list[str] = []
    # The quick worker must report within WARMING_TIMEOUT even on a busy runner (its imports
    # took over 600 ms there once), and the slow one well after it.
    env = {"INIT_MS": "100", "SLOW_ONE_MS": "5000", "WARMING_TIMEOUT": "2s"}
    sandbox = modes_sandbox(
        tmp_path, lines, env=env, init_type="lambda-managed-instances", max_concurrency=2
    )
    with sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert 2000 <= init.duration_ms < 4900, "ended at WARMING_TIMEOUT, not the slow worker"
        released = next(line for line in lines if "[lambda-warmup] released" in line)
        assert "(1 of 2 workers reported ok)" in released, released


_INVOKE_EXTENSION = """#!/usr/bin/env python3
import http.client, json, os
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
def register(events):
    conn.request("POST", "/2020-01-01/extension/register", body=json.dumps({"events": events}),
                 headers={"Lambda-Extension-Name": "invoker"})
    resp = conn.getresponse()
    body = json.loads(resp.read())
    print("register", events, resp.status, body.get("errorType"), flush=True)
    return resp
register(["INVOKE", "SHUTDOWN"])
ident = register(["SHUTDOWN"]).getheader("Lambda-Extension-Identifier")
conn.request("GET", "/2020-01-01/extension/event/next",
             headers={"Lambda-Extension-Identifier": ident})
conn.getresponse().read()
"""


def test_managed_instances_refuse_invoke_subscriptions(tmp_path: Path) -> None:
    layer = tmp_path / "invoker"
    (layer / "extensions").mkdir(parents=True)
    script = layer / "extensions" / "invoker"
    script.write_text(_INVOKE_EXTENSION)
    script.chmod(0o755)
    lines: list[str] = []
    spec = FunctionSpec(
        code_dir=FUNCTIONS / "basic", handler="app.echo", layers=[layer], name="lmi-invoke"
    )
    with Sandbox(
        spec,
        init_type="lambda-managed-instances",
        max_concurrency=1,
        shutdown_budget_s=0.5,
        log=lines.append,
    ) as sandbox:
        assert sandbox.start().status == "success", lines
        assert sandbox.invoke({}).status == "success"
    assert "[invoker] register ['INVOKE', 'SHUTDOWN'] 403 Extension.InvalidEventType" in lines
    assert "[invoker] register ['SHUTDOWN'] 200 None" in lines
