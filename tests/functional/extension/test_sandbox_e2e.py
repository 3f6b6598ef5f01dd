"""The extension in the project's local Lambda (``lambda_sandbox``): real runtime, real INIT.

The function here reports with the standard library (not ``lambda_warmup``), so these tests
check the extension against the sandbox's Extensions API and INIT gating, independently of the
library. They are ``e2e``: they build the sandbox's runtime venv on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

sandbox_module = pytest.importorskip("lambda_sandbox")
Sandbox = sandbox_module.Sandbox
FunctionSpec = sandbox_module.FunctionSpec

pytestmark = pytest.mark.e2e


@pytest.fixture
def make(layer_copy: Path, report_app: Path) -> Iterator[object]:
    made: list[object] = []
    lines: list[str] = []

    def build(env: dict[str, str], **kwargs: object) -> tuple[object, list[str]]:
        spec = FunctionSpec(
            code_dir=report_app,
            handler="app.handler",
            layers=[layer_copy],
            environment={"WARMUP_PORT": str(free_port()), **env},
            name="warmup-e2e",
            timeout_s=3.0,
        )
        sandbox = Sandbox(spec, shutdown_budget_s=2.0, log=lines.append, **kwargs)
        made.append(sandbox)
        return sandbox, lines

    yield build
    for sandbox in made:
        sandbox.shutdown()  # type: ignore[attr-defined]


def test_init_ends_when_the_report_arrives(make) -> None:
    sandbox, lines = make({"WARMING_TIMEOUT": "5s", "REPORT_AFTER_MS": "300"})
    init = sandbox.start()
    assert init.status == "success", lines
    ext_next = init.extensions_next_ms["lambda-warmup"]
    assert init.runtime_next_ms is not None
    assert init.runtime_next_ms < ext_next, "INIT was not held past the runtime's next"
    assert 300 <= ext_next < 300 + 1500, f"extension next at {ext_next} ms"
    assert init.duration_ms < 300 + 1500
    assert any("released after" in line and "report ok from pid" in line for line in lines), lines
    assert sandbox.invoke({}).status == "success"


def test_on_demand_budget_keeps_init_inside_the_limit(make) -> None:
    # No report ever comes; the sandbox's on-demand limit is 1.5 s, and so is the extension's.
    sandbox, lines = make(
        {"WARMING_TIMEOUT": "60s", "_WARMUP_INIT_LIMIT_MS": "1500"}, on_demand_init_limit_s=1.5
    )
    init = sandbox.start()
    assert init.status == "success", (init, lines)
    assert 900 <= init.duration_ms < 1500, init
    assert any("INIT budget reached" in line for line in lines), lines


def test_shutdown_exits_cleanly(make) -> None:
    sandbox, lines = make({})
    assert sandbox.start().status == "success"
    sandbox.shutdown()
    assert any("shutdown (spindown)" in line for line in lines), lines
    exits = [
        record["returncode"]
        for record in sandbox.records
        if record["event"] == "process_exit" and record.get("name") == "lambda-warmup"
    ]
    assert exits == [0], sandbox.records
