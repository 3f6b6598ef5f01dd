"""An ASGI app (Starlette) in the sandbox, with the layer: served by ``warm_asgi`` its lifespan
starts once, in INIT, across ten frozen invocations, and shuts down at SHUTDOWN; served by Mangum
on the same app, it starts and shuts down in every invocation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox, dependencies_layer
from tests.support.http_events import ClientRequest, http_api
from tests.support.layers import warmup_layer
from tests.support.ports import free_port
from tests.support.sandboxes import FUNCTIONS

pytestmark = pytest.mark.e2e

CODE = FUNCTIONS / "web"
INVOCATIONS = 10


def web_sandbox(
    tmp_path: Path, lines: list[str], handler: str, env: dict[str, str] | None = None
) -> Sandbox:
    spec = FunctionSpec(
        code_dir=CODE,
        handler=handler,
        layers=[
            warmup_layer(tmp_path / "layer", extension=True),
            dependencies_layer(CODE / "requirements.txt"),
        ],
        environment={
            "WARMUP_PORT": str(free_port()),
            "WARMING_TIMEOUT": "5s",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            **(env or {}),
        },
        name="asgi-e2e",
        timeout_s=5.0,
    )
    return Sandbox(spec, log=lines.append, shutdown_budget_s=2.0)


def serve(sandbox: Sandbox, lines: list[str]) -> dict[str, Any]:
    result = sandbox.invoke(http_api(ClientRequest(path="/count")))
    assert result.status == "success", (result.payload, lines[-30:])
    response = result.json()
    assert response["statusCode"] == 200, response
    answer: dict[str, Any] = json.loads(response["body"])
    return answer


def function_lines(sandbox: Sandbox, text: str) -> list[dict[str, Any]]:
    return [
        r
        for r in sandbox.records
        if r["event"] == "log" and r["source"] == "function" and text in r["line"]
    ]


def runtime_exit(sandbox: Sandbox) -> dict[str, Any]:
    return next(
        r for r in sandbox.records if r["event"] == "process_exit" and r["kind"] == "runtime"
    )


def test_warm_asgi_starts_the_lifespan_once_in_init_and_stops_it_at_shutdown(tmp_path: Path):
    lines: list[str] = []
    with web_sandbox(tmp_path, lines, "web_app.warm.handler") as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert function_lines(sandbox, "lifespan startup 1 in lambda-warmup-loop"), lines
        assert function_lines(sandbox, "init(s) settled"), "the report, before the first invoke"
        answers = [serve(sandbox, lines) for _ in range(INVOCATIONS)]
        assert not function_lines(sandbox, "lifespan shutdown"), "no shutdown while serving"
    assert [(a["startups"], a["shutdowns"]) for a in answers] == [(1, 0)] * INVOCATIONS
    assert len({(a["pid"], a["resource"]) for a in answers}) == 1, "one process, one resource"
    assert {a["thread"] for a in answers} == {"lambda-warmup-loop"}
    assert len(function_lines(sandbox, "lifespan startup")) == 1
    [shutdown] = function_lines(sandbox, "lifespan shutdown 1")
    runtime = runtime_exit(sandbox)
    # At SHUTDOWN, not before. (Not "before the runtime exited" by these clocks: the line's time
    # is when the sandbox read it from the pipe, which can come after it saw the exit.)
    [shutdown_start] = [r for r in sandbox.records if r["event"] == "shutdown_start"]
    assert shutdown_start["t_ms"] < shutdown["t_ms"], "shut down at SHUTDOWN"
    assert runtime["returncode"] == -15, "it ended by its SIGTERM, not killed at the deadline"
    assert not any("cut short" in line for line in lines), lines


def test_mangum_starts_and_stops_the_lifespan_in_every_invocation(tmp_path: Path):
    lines: list[str] = []
    with web_sandbox(tmp_path, lines, "web_app.per_invocation.handler") as sandbox:
        assert sandbox.start().status == "success", lines
        assert not function_lines(sandbox, "lifespan startup"), "nothing started in INIT"
        answers = [serve(sandbox, lines) for _ in range(INVOCATIONS)]
    assert [a["startups"] for a in answers] == list(range(1, INVOCATIONS + 1))
    assert [a["shutdowns"] for a in answers] == list(range(INVOCATIONS))
    assert len({a["resource"] for a in answers}) > 1, "a new resource in each invocation"
    assert len(function_lines(sandbox, "lifespan shutdown")) == INVOCATIONS


def test_init_is_held_until_a_slow_startup_is_done(tmp_path: Path):
    lines: list[str] = []
    env = {"STARTUP_DELAY_S": "1.5"}
    with web_sandbox(tmp_path, lines, "web_app.warm.handler", env) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        assert init.duration_ms >= 1500, "INIT ended before the lifespan's startup"
        assert function_lines(sandbox, "lifespan ok"), "the report names the lifespan init"
        first = sandbox.invoke(http_api(ClientRequest(path="/count")))
        assert first.status == "success", (first.payload, lines[-30:])
        assert json.loads(first.json()["body"])["startups"] == 1
    [startup] = function_lines(sandbox, "lifespan startup")
    invoke = next(r for r in sandbox.records if r["event"] == "invoke_start")
    assert startup["t_ms"] < invoke["t_ms"], "the startup was done before the first request"
