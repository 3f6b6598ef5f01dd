"""Provisioned concurrency and SnapStart INIT in the sandbox."""

from __future__ import annotations

import pytest

from tests.support.sandboxes import MakeSandbox

pytestmark = pytest.mark.e2e


def test_provisioned_concurrency_is_not_bound_by_the_on_demand_limit(
    make_sandbox: MakeSandbox,
) -> None:
    lines: list[str] = []
    sandbox = make_sandbox(
        "app.echo",
        layers=("holder",),
        env={"HOLD_MS": "500"},
        init_type="provisioned-concurrency",
        on_demand_init_limit_s=0.2,
        log=lines.append,
    )
    init = sandbox.start()
    assert init.status == "success"
    assert init.duration_ms >= 500
    result = sandbox.invoke({})
    assert result.status == "success"
    assert result.json()["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    assert result.init_duration_ms is None  # INIT was not part of any request
    report = next(line for line in lines if line.startswith("REPORT"))
    assert "Init Duration" not in report


def test_snapstart_runs_hooks_around_restore(make_sandbox: MakeSandbox) -> None:
    lines: list[str] = []
    sandbox = make_sandbox(
        "snap.handler", code="snapstart", init_type="snap-start", log=lines.append
    )
    init = sandbox.start()
    assert init.status == "success"
    assert "[function] hook before-snapshot" in lines
    assert "[function] hook after-restore" not in lines
    result = sandbox.invoke({})
    assert result.status == "success", result.payload
    assert result.json() == {"hooks": ["before", "after"], "log_group": None}
    assert result.restore_duration_ms is not None
    assert result.init_duration_ms is None
    report = next(line for line in lines if line.startswith("REPORT"))
    assert "Restore Duration:" in report
    assert sandbox.invoke({}).restore_duration_ms is None


def test_snapstart_after_restore_failure_resets(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(
        "snap.handler",
        code="snapstart",
        init_type="snap-start",
        env={"FAIL_AFTER_RESTORE": "1"},
    )
    assert sandbox.start().status == "success"
    result = sandbox.invoke({})
    assert result.status == "error"
    assert result.error_type == "Runtime.AfterRestoreError"
    assert any(r["event"] == "shutdown_end" for r in sandbox.records)  # reset
