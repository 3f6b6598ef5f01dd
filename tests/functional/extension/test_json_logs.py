"""The extension's lines with Lambda's JSON log format, its log level, and its EMF document, as
a real process (through the layer's launcher) against the fake Extensions API."""

from __future__ import annotations

import calendar
import json
import os
import time
from typing import Any

from extension_entry._log import Log
from tests.support.emf import validate_emf
from tests.support.extension import ExtensionProcess, Harness

PROMPT_S = 2.0


def parsed(ext: ExtensionProcess) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every output line parsed on its own: (log lines, EMF documents)."""
    logs: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for _, line in ext.lines:
        obj = json.loads(line)  # each line is one JSON object, and nothing else
        assert isinstance(obj, dict), line
        (documents if "_aws" in obj else logs).append(obj)
    return logs, documents


def test_json_lines_with_the_lifecycle_events(harness: Harness) -> None:
    before = time.time()
    ext = harness.start(WARMING_TIMEOUT="4s", AWS_LAMBDA_LOG_FORMAT="JSON")
    harness.api.wait_for("/register", PROMPT_S)
    ext.wait_for_line('"event":"hold_started"')
    assert harness.report(status="ok", pid=77)[0] == 202
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    after = time.time()
    logs, documents = parsed(ext)
    assert documents == []  # no WARMUP_METRICS
    for line in logs:
        assert list(line)[:4] == ["timestamp", "level", "message", "logger"], line
        assert line["logger"] == "lambda-warmup"
        assert line["level"] == "INFO"
        assert not line["message"].startswith("[")
        seconds = calendar.timegm(time.strptime(line["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        stamp = seconds + float("0" + line["timestamp"][19:-1])
        assert line["timestamp"].endswith("Z")
        assert before - 1 <= stamp <= after + 1, line
    events = [line.get("event") for line in logs]
    assert events == [
        "listening", "registered", "hold_started", "report_received", "hold_ended", "shutdown",
    ]  # fmt: skip
    by_event = {line["event"]: line for line in logs}
    assert by_event["registered"]["message"].startswith("registered for SHUTDOWN, ")
    assert by_event["registered"]["since_start_ms"] > 0
    received = by_event["report_received"]
    assert (received["status"], received["pid"], received["workers"]) == ("ok", 77, 1)
    ended = by_event["hold_ended"]
    assert ended["why"] == "report"
    assert 0 <= ended["held_ms"] < 4000
    assert ended["message"].startswith(f"released after {ended['held_ms']:.0f} ms: report ok")


def test_hold_ended_by_timeout_is_a_warning_and_the_level_filters(harness: Harness) -> None:
    ext = harness.start(
        WARMING_TIMEOUT="200ms", AWS_LAMBDA_LOG_FORMAT="json", AWS_LAMBDA_LOG_LEVEL="WARN"
    )
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    logs, _ = parsed(ext)
    (ended,) = logs  # the INFO lines (listening, registered, ...) are below WARN
    assert (ended["event"], ended["level"], ended["why"]) == ("hold_ended", "WARN", "timeout")
    assert ended["held_ms"] >= 200


def test_the_level_also_filters_text_lines(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="oops", AWS_LAMBDA_LOG_LEVEL="ERROR")
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    lines = [line for _, line in ext.lines]
    assert len(lines) == 1, lines
    assert lines[0].startswith("[lambda-warmup] error: WARMING_TIMEOUT='oops' is not a duration")


def test_emf_document_of_the_hold(harness: Harness) -> None:
    ext = harness.start(
        WARMING_TIMEOUT="4s",
        WARMUP_METRICS="emf",
        POWERTOOLS_METRICS_NAMESPACE="Shop",
        POWERTOOLS_SERVICE_NAME="orders",
        AWS_LAMBDA_INITIALIZATION_TYPE="provisioned-concurrency",
    )
    ext.wait_for_line("hold started")
    time.sleep(0.05)  # not an ordering device: only makes the held time non-zero
    assert harness.report()[0] == 202
    _, line = ext.wait_for_line('"_aws"')
    harness.api.wait_for("/event/next", PROMPT_S)
    document = json.loads(line)
    validate_emf(document)
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "Shop",
            "Dimensions": [["service"]],
            "Metrics": [{"Name": "InitHeld", "Unit": "Milliseconds"}],
        }
    ]
    assert document["service"] == "orders"
    assert document["InitType"] == "provisioned-concurrency"
    assert document["HeldBy"] == "report"
    assert 50 <= document["InitHeld"] < 4000
    assert abs(document["_aws"]["Timestamp"] - time.time() * 1000) < 60_000


def test_json_encoding_of_awkward_text_and_values() -> None:
    read, write = os.pipe()
    try:
        log = Log('ext "x"', write, json=True)
        message = 'quote " backslash \\ tab \t bell \x07 del \x7f é 日本 \U0001f600'
        log(
            message,
            "WARN",
            ratio=0.75,
            count=3,
            ok=True,
            none=None,
            nan=float("nan"),
            names=["a", "b"],
            other=ValueError("v"),
        )
        log("line one\nline two")  # one line, as in text mode
        data = os.read(read, 65536).decode()
    finally:
        os.close(read)
        os.close(write)
    first, second = (json.loads(line) for line in data.splitlines())
    assert first["message"] == message
    assert first["logger"] == 'ext "x"'
    assert first["level"] == "WARN"
    assert (first["ratio"], first["count"], first["ok"], first["none"]) == (0.8, 3, True, None)
    assert (first["nan"], first["names"], first["other"]) == (None, ["a", "b"], "v")
    assert second["message"] == "line one line two"
