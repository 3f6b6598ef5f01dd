"""Init telemetry in a real sandbox run: awslambdaric with ``AWS_LAMBDA_LOG_FORMAT=JSON`` and
``AWS_LAMBDA_LOG_LEVEL``, the layer's extension, and ``WARMUP_METRICS=emf``. Every line the
function and the extension wrote is parsed on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.emf import validate_emf
from tests.support.layers import warmup_layer
from tests.support.ports import free_port
from tests.support.sandboxes import FUNCTIONS

pytestmark = pytest.mark.e2e


def run_once(tmp_path: Path, env: dict[str, str]) -> list[Any]:
    """INIT and two invocations; every ``log`` record (source, line) the sandbox kept."""
    layer = warmup_layer(tmp_path / "layer", extension=True)
    spec = FunctionSpec(
        code_dir=FUNCTIONS / "telemetry",
        handler="telemetry_app.handler",
        layers=[layer],
        environment={"WARMUP_PORT": str(free_port()), "WARMING_TIMEOUT": "5s", **env},
        name="telemetry-e2e",
        timeout_s=5.0,
    )
    lines: list[str] = []
    with Sandbox(spec, shutdown_budget_s=1.0, log=lines.append) as sandbox:
        init = sandbox.start()
        assert init.status == "success", lines
        for _ in range(2):
            result = sandbox.invoke({})
            assert result.status == "success", (result.payload, lines)
            assert result.json() == {"api": "client for local", "flaky": 2}
        records = [(r["source"], r["line"]) for r in sandbox.records if r["event"] == "log"]
    return records


def parse_all(records: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(log objects, EMF documents): every line the function and the extension wrote is one
    JSON object."""
    logs: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for source, line in records:
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line from {source}: {line!r}") from None
        assert isinstance(obj, dict), line
        (documents if "_aws" in obj else logs).append({"source": source, **obj})
    return logs, documents


def test_json_logs_emf_and_the_timeline_fields(tmp_path: Path) -> None:
    before_ms = time.time() * 1000
    records = run_once(
        tmp_path,
        {
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "INFO",
            "WARMUP_METRICS": "emf",
            "POWERTOOLS_METRICS_NAMESPACE": "Telemetry",
            "POWERTOOLS_SERVICE_NAME": "e2e",
        },
    )
    after_ms = time.time() * 1000
    logs, documents = parse_all(records)
    for line in logs:
        assert {"timestamp", "level", "message", "logger"} <= set(line), line
        assert line["level"] != "DEBUG", line  # AWS_LAMBDA_LOG_LEVEL=INFO
    library = [line for line in logs if line["logger"] == "lambda_warmup"]
    extension = [line for line in logs if line["logger"] == "lambda-warmup"]
    # The library: the retry (a warning), the summary with the timeline fields.
    retry = next(line for line in library if line.get("event") == "init_retry")
    assert (retry["level"], retry["init"], retry["error"]) == (
        "WARNING", "flaky", "ConnectionError: throttled",
    )  # fmt: skip
    (settled,) = [line for line in library if line.get("event") == "inits_settled"]
    assert settled["level"] == "INFO"
    assert settled["status"] == "ok"
    assert before_ms <= settled["import_done_ms"] <= after_ms
    inits = {init["name"]: init for init in settled["inits"]}
    assert list(inits) == ["config", "api", "flaky"]
    assert [wait["on"] for wait in inits["api"]["waits"]] == ["config"]
    assert len(inits["flaky"]["attempt_spans"]) == 2
    for init in inits.values():
        assert before_ms <= init["started_ms"] <= init["attempt_spans"][-1][1] <= after_ms
    # The held INIT: no invocation waited, so no invocation_waited line.
    assert not [line for line in library if line.get("event") == "invocation_waited"]
    # The handler's own line, through the same JSON format.
    handled = [line for line in logs if line["logger"] == "telemetry_app"]
    assert len(handled) == 2, handled  # one per invocation; not the DEBUG ones
    assert (handled[0]["message"], handled[0]["client"]) == ("handled", "client for local")
    # The extension: its lifecycle as events, the hold ended by the report.
    events = [line.get("event") for line in extension]
    assert events[:5] == [
        "listening", "registered", "hold_started", "report_received", "hold_ended",
    ]  # fmt: skip
    ended = extension[4]
    assert (ended["why"], ended["level"]) == ("report", "INFO")
    assert extension[3]["status"] == "ok"
    assert ended["held_ms"] >= settled["duration_ms"] - 50
    # EMF: the library's document and the extension's, both valid.
    assert len(documents) == 2, documents
    for document in documents:
        validate_emf(document)
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Telemetry"
        assert document["service"] == "e2e"
    library_doc = next(d for d in documents if d["source"] == "function")
    held_doc = next(d for d in documents if d["source"] != "function")
    assert library_doc["Init.flaky.Attempts"] == 2
    assert library_doc["ColdStart"] == 1
    assert held_doc["InitHeld"] == pytest.approx(ended["held_ms"], abs=1)


def test_text_logs_stay_text_and_debug_shows_per_init_lines(tmp_path: Path) -> None:
    records = run_once(tmp_path, {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    lines = [line for _, line in records]
    assert not [line for line in lines if line.lstrip().startswith("{")], lines  # no EMF
    assert any(
        line.startswith("[INFO]") and "lambda-warmup: 3 init(s) settled in " in line
        for line in lines
    ), lines
    assert any("lambda-warmup: init 'config' ok in " in line for line in lines), lines
    assert any(line.startswith("[lambda-warmup] released after ") for line in lines), lines


def test_an_invocation_that_waits_for_the_inits_says_so(tmp_path: Path) -> None:
    """No hold: INIT ends at the module's import and the sandbox is frozen, so the first
    invocation waits for the inits, and one INFO line says for which and how long."""
    before_ms = time.time() * 1000
    env = {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO", "WARMING_TIMEOUT": ""}
    records = run_once(tmp_path, env)
    after_ms = time.time() * 1000
    logs, _ = parse_all(records)
    (waited,) = [line for line in logs if line.get("event") == "invocation_waited"]
    assert waited["level"] == "INFO"
    assert waited["logger"] == "lambda_warmup"
    assert waited["requestId"]  # inside the invocation
    assert "config" in waited["inits"]
    assert before_ms <= waited["start_ms"] <= waited["end_ms"] <= after_ms
    assert waited["waited_ms"] > 0
    (settled,) = [line for line in logs if line.get("event") == "inits_settled"]
    inits = {init["name"]: init for init in settled["inits"]}
    # The invocation's wait ended when the last required init it waited for settled.
    last_end = max(inits[name]["attempt_spans"][-1][1] for name in waited["inits"])
    assert waited["end_ms"] >= last_end - 1
