"""The Runtime and Extensions APIs' answers, seen from real processes in the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambda_sandbox import Sandbox
from tests.support.sandboxes import MakeSandbox

pytestmark = pytest.mark.e2e


def probes(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    out = {}
    for record in sandbox.records:
        if record["event"] == "log" and record["line"].startswith("probe-answer "):
            probe = json.loads(record["line"].removeprefix("probe-answer "))
            out[probe.pop("name")] = probe
    return out


def probe_events(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [
        json.loads(r["line"].removeprefix("probe-event "))
        for r in sandbox.records
        if r["event"] == "log" and r["line"].startswith("probe-event ")
    ]


def _err(status: int, error_type: str) -> tuple[int, str]:
    return status, error_type


def test_extensions_api_answers(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox("app.echo", layers=("probe",))
    assert sandbox.start().status == "success"
    got = probes(sandbox)
    expected_errors = {
        "register-no-name": _err(403, "Extension.InvalidExtensionName"),
        "register-bad-json": _err(403, "InvalidRequestFormat"),
        "register-bad-event": _err(403, "Extension.InvalidEventType"),
        "next-no-id": _err(403, "Extension.MissingExtensionIdentifier"),
        "next-bad-id": _err(403, "Extension.InvalidExtensionIdentifier"),
        "next-unknown-id": _err(403, "Extension.UnknownExtensionIdentifier"),
        "register-again": _err(403, "Extension.InvalidExtensionState"),
        "init-error-no-type": _err(403, "Extension.MissingHeader"),
    }
    for name, (status, error_type) in expected_errors.items():
        assert got[name]["status"] == status, name
        assert got[name]["body"]["errorType"] == error_type, name
        assert isinstance(got[name]["body"]["errorMessage"], str), name
    assert got["register"] == {
        "status": 200,
        "body": {
            "functionName": "sandbox-test",
            "functionVersion": "$LATEST",
            "handler": "app.echo",
            "accountId": "123456789012",
        },
        "id_is_uuid": True,
    }
    result = sandbox.invoke({"a": 1})
    sandbox.shutdown()
    events = probe_events(sandbox)
    assert [e["event"]["eventType"] for e in events] == ["INVOKE", "SHUTDOWN"]
    assert all(e["status"] == 200 and e["has_event_id"] for e in events)
    invoke = events[0]["event"]
    assert set(invoke) == {"eventType", "deadlineMs", "requestId", "invokedFunctionArn", "tracing"}
    assert invoke["requestId"] == result.request_id
    assert set(events[1]["event"]) == {"eventType", "shutdownReason", "deadlineMs"}


def test_runtime_api_wrong_state_answers(make_sandbox: MakeSandbox) -> None:
    result = make_sandbox("app.probe_runtime").invoke({})
    assert result.status == "success", result.payload
    got = result.json()
    assert got["response-wrong-id"]["status"] == 400
    assert got["response-wrong-id"]["body"]["errorType"] == "InvalidRequestID"
    assert got["init-error-while-invoking"]["status"] == 403
    assert got["init-error-while-invoking"]["body"]["errorType"] == "InvalidStateTransition"
    assert got["unknown-path"]["status"] == 404


def test_response_too_large_is_a_function_error(make_sandbox: MakeSandbox) -> None:
    result = make_sandbox("app.echo").invoke({"big": "x" * (6 * 1024 * 1024)})
    assert result.status == "error"
    assert result.error_type == "Function.ResponseSizeTooLarge"
