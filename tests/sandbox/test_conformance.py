"""Cross-check: the same scenarios on our sandbox and on AWS's RIE; what a function and an
extension observe must agree (registration answers, INIT held until the extension's next, event
shapes, error reporting). Known, deliberate differences are named where they are excluded."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.layers import RUNTIMES
from tests.support.rie import rie_unavailable, run_rie
from tests.support.sandboxes import FUNCTIONS, LAYERS

pytestmark = pytest.mark.e2e

Run = tuple[list[Any], list[str]]
"""(response bodies, log lines of the function and the extensions)."""
Backend = Callable[[str, str, list[str], dict[str, str], list[Any]], Run]


def run_sandbox(
    code: str,
    handler: str,
    layers: list[str],
    env: dict[str, str],
    events: list[Any],
    runtime: str,
) -> Run:
    spec = FunctionSpec(
        code_dir=FUNCTIONS / code,
        handler=handler,
        layers=[LAYERS / name for name in layers],
        environment=env,
        name="sandbox-test",
        runtime=runtime,
    )
    sandbox = Sandbox(spec, shutdown_budget_s=2.0)
    try:
        responses = [sandbox.invoke(event).json() for event in events]
    finally:
        sandbox.shutdown()
    lines = [r["line"] for r in sandbox.records if r["event"] == "log"]
    return responses, lines


def run_on_rie(
    code: str,
    handler: str,
    layers: list[str],
    env: dict[str, str],
    events: list[Any],
    runtime: str,
) -> Run:
    layer_dirs = [LAYERS / name for name in layers]
    with run_rie(FUNCTIONS / code, handler, layer_dirs, env, runtime=runtime) as rie:
        responses = []
        for event in events:
            _status, body = rie.invoke(event)  # 200, or 502 for INIT errors
            responses.append(body)
    return responses, rie.lines


BACKENDS = {"sandbox": run_sandbox, "rie": run_on_rie}


@pytest.fixture(scope="module")
def rie_skip() -> None:
    reason = rie_unavailable()
    if reason:
        pytest.skip(reason)


def _prefixed(lines: list[str], prefix: str) -> list[Any]:
    """JSON documents after ``prefix``. RIE gives every process the same stdout, so a line can
    start in the middle of another process's (``echo {...}probe-event {...}``)."""
    return [
        json.loads(line[line.index(prefix) + len(prefix) :]) for line in lines if prefix in line
    ]


def observe_probe(backend: Backend) -> dict[str, Any]:
    responses, lines = backend("basic", "app.echo", ["probe"], {}, [{"n": 1}, {"n": 2}])
    probes = {p.pop("name"): p for p in _prefixed(lines, "probe-answer ")}
    events = [e["event"] for e in _prefixed(lines, "probe-event ")]
    invokes = [e for e in events if e["eventType"] == "INVOKE"]
    return {
        "probe_answers": {
            name: (p["status"], (p["body"] or {}).get("errorType")) for name, p in probes.items()
        },
        # Lambda adds accountId when asked (Lambda-Extension-Accept-Feature: accountId); RIE
        # knows no account id and leaves it out.
        "register_body_keys": sorted(set(probes["register"]["body"]) - {"accountId"}),
        "register_id_is_uuid": probes["register"]["id_is_uuid"],
        "event_types": [e["eventType"] for e in events],
        # `tracing` is documented; RIE leaves it out when there is no trace id.
        "invoke_keys": [sorted(set(e) - {"tracing"}) for e in invokes],
        # Values differ on purpose: our reason is Lambda's `spindown`; RIE, stopped with SIGTERM,
        # says `SandboxTerminated`.
        "shutdown_keys": sorted(events[-1]),
        "handler_saw_event": [r["event"] for r in responses],
        "request_ids_match": [
            r["request_id"] == e["requestId"] for r, e in zip(responses, invokes, strict=True)
        ],
        "deadline_realistic": [0 < r["remaining_ms"] <= 3000 for r in responses],
    }


def observe_hold(backend: Backend) -> dict[str, Any]:
    responses, lines = backend("basic", "app.echo", ["holder"], {"HOLD_MS": "400"}, [{}])
    next_at = float(next(x for x in lines if "holder-next-at " in x).split("holder-next-at ")[1])
    return {"handler_ran_after_extension_next": responses[0]["now"] * 1000 >= next_at}


def observe_runtime_api(backend: Backend) -> dict[str, Any]:
    responses, _ = backend("basic", "app.probe_runtime", [], {}, [{}])
    return {
        label: (
            got["status"],
            got["body"].get("errorType") if isinstance(got["body"], dict) else None,
        )
        for label, got in responses[0].items()
    }


def observe_errors(backend: Backend) -> dict[str, Any]:
    out = {}
    for code, handler in [
        ("basic", "app.raises"),
        ("import_error", "broken.handler"),
        ("basic", "app.crash"),
    ]:
        responses, _ = backend(code, handler, [], {}, [{}])
        out[handler] = responses[0]["errorType"]
    return out


@pytest.mark.usefixtures("rie_skip")
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(
    "observe",
    [observe_probe, observe_hold, observe_runtime_api, observe_errors],
    ids=lambda f: f.__name__,
)
def test_sandbox_agrees_with_rie(
    observe: Callable[[Backend], dict[str, Any]], runtime: str
) -> None:
    ours = observe(functools.partial(BACKENDS["sandbox"], runtime=runtime))
    theirs = observe(functools.partial(BACKENDS["rie"], runtime=runtime))
    assert ours == theirs
