"""Powertools' Logger and Metrics around an async ``@warm_handler`` under the real awslambdaric
runtime, in either order: the order of issue 16's ``Runtime.MarshalError`` (``@warm_handler``
on top) now serves, and each invocation's log line and metrics come out of that invocation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.layers import warmup_layer
from tests.support.ports import free_port
from tests.support.powertools import emf_documents, metric_values, powertools_layer
from tests.support.sandboxes import FUNCTIONS

pytestmark = pytest.mark.e2e


def _json_lines(logs: list[str], message: str) -> list[dict[str, Any]]:
    found = []
    for line in logs:
        start = line.find("{")
        if start < 0:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        if record.get("message") == message:
            found.append(record)
    return found


@pytest.mark.parametrize("handler", ["warm_on_top", "powertools_on_top"])
def test_logger_and_metrics_in_either_order_under_the_runtime(tmp_path: Path, handler: str):
    lines: list[str] = []
    spec = FunctionSpec(
        code_dir=FUNCTIONS / "powertools",
        handler=f"powertools_app.{handler}",
        layers=[warmup_layer(tmp_path / "layer", extension=True), powertools_layer()],
        environment={"WARMUP_PORT": str(free_port()), "WARMING_TIMEOUT": "5s"},
        name="orders",
        timeout_s=5.0,
    )
    with Sandbox(spec, shutdown_budget_s=1.0, log=lines.append) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        for amount, cold in ((3, True), (4, False)):
            result = sandbox.invoke({"amount": amount})
            assert result.status == "success", (result.error_type, result.payload, lines)
            assert result.json() == {"charged": amount, "thread": "lambda-warmup-loop"}
            [line] = _json_lines(result.logs, "charged")
            assert (line["amount"], line["cold_start"], line["taskName"]) == (
                amount,
                cold,
                handler,
            )
            assert line["function_request_id"] == result.request_id
            documents = emf_documents("\n".join(_emf_text(result.logs)))
            assert metric_values(documents, "OrdersCharged") == [float(amount)]
            assert metric_values(documents, "ColdStart") == ([1.0] if cold else [])


def _emf_text(logs: list[str]) -> list[str]:
    """The EMF documents among the invocation's lines (from their first brace: the sandbox may
    prefix a line as Lambda's log stream does)."""
    return [line[line.find("{") :] for line in logs if '"_aws"' in line]
