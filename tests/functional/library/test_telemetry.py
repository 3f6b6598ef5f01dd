"""Init telemetry in-process: the log lines' fields as awslambdaric's JSON format writes them,
and the EMF document, validated against the specification."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from awslambdaric.lambda_runtime_log_utils import JsonFormatter  # type: ignore[import-untyped]

from lambda_warmup import Settings, Warmup
from tests.support.emf import validate_emf

BACKOFF = 0.05


class JsonLines(logging.Handler):
    """The library's records as awslambdaric writes them with ``AWS_LAMBDA_LOG_FORMAT=JSON``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        """Each line parsed on its own: one JSON object per line."""
        objects = []
        for line in self.lines:
            assert line.endswith("\n"), line
            assert line.count("\n") == 1, line
            objects.append(json.loads(line))
        return objects

    def event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.parsed() if line.get("event") == name]
            if found:
                assert len(found) == 1, found
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name!r} line within {timeout} s: {self.lines}")
            time.sleep(0.01)


@pytest.fixture
def json_lines() -> Iterator[JsonLines]:
    handler = JsonLines()
    logger = logging.getLogger("lambda_warmup")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class Context:
    def __init__(self, remaining_ms: int = 5000) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def declare_three(warmup: Warmup) -> None:
    """``config`` (0.1 s), ``api`` (awaits config), ``flaky`` (fails once, then succeeds)."""
    calls = []

    @warmup.init
    async def config() -> str:
        await anyio.sleep(0.1)
        return "cfg"

    @warmup.init
    async def api() -> str:
        return f"api with {await config}"

    @warmup.init(retries=1, backoff=BACKOFF, required=False)
    async def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("not yet")
        return len(calls)


def test_inits_settled_line_carries_the_timeline(json_lines: JsonLines) -> None:
    warmup = Warmup(settings=Settings())
    before_ms = time.time() * 1000 - 0.1  # fields are rounded to 0.1 ms
    try:
        declare_three(warmup)
        line = json_lines.event("inits_settled")
    finally:
        warmup.close()
    after_ms = time.time() * 1000 + 0.1
    assert line["level"] == "INFO"
    assert line["logger"] == "lambda_warmup"
    assert line["message"].startswith("lambda-warmup: 3 init(s) settled in ")
    assert line["status"] == "ok"
    assert line["duration_ms"] >= 100
    assert before_ms <= line["import_done_ms"] <= after_ms
    inits = {init["name"]: init for init in line["inits"]}
    assert list(inits) == ["config", "api", "flaky"]
    for init in inits.values():
        assert set(init) == {
            "name", "required", "status", "duration_ms", "attempts", "error", "started_ms",
            "attempt_spans", "waits",
        }  # fmt: skip
        assert before_ms <= init["started_ms"] <= after_ms
        assert init["attempt_spans"][0][0] == pytest.approx(init["started_ms"], abs=1)
        for start, end in init["attempt_spans"]:
            assert init["started_ms"] - 0.2 <= start <= end <= after_ms
    config, api, flaky = inits["config"], inits["api"], inits["flaky"]
    assert (config["status"], config["attempts"], config["error"]) == ("ok", 1, None)
    assert config["duration_ms"] >= 100
    # api awaited config's handle: the wait lies inside its one attempt and ends when config did.
    assert [wait["on"] for wait in api["waits"]] == ["config"]
    (wait,) = api["waits"]
    (attempt,) = api["attempt_spans"]
    assert attempt[0] <= wait["start_ms"] <= wait["end_ms"] <= attempt[1] + 0.2
    assert wait["end_ms"] >= config["attempt_spans"][0][1] - 0.2
    assert wait["end_ms"] - wait["start_ms"] >= 90
    # flaky: two attempts, the backoff between them; ok in the end, so no error.
    assert (flaky["required"], flaky["status"], flaky["attempts"]) == (False, "ok", 2)
    first, second = flaky["attempt_spans"]
    assert second[0] - first[1] >= BACKOFF * 1000 * 0.9
    assert flaky["error"] is None


def test_a_failed_init_is_one_line_with_its_fields(json_lines: JsonLines) -> None:
    warmup = Warmup(settings=Settings())
    try:

        @warmup.init(retries=1, backoff=0.01)
        async def database() -> None:
            raise ConnectionRefusedError("port 5432")

        json_lines.event("inits_settled")
    finally:
        warmup.close()
    retry = json_lines.event("init_retry")
    assert retry["level"] == "WARNING"
    assert (retry["init"], retry["attempts"]) == ("database", 1)
    assert retry["error"] == "ConnectionRefusedError: port 5432"
    failed = json_lines.event("init_settled")
    assert failed["level"] == "ERROR"
    assert failed["init"] == "database"
    assert failed["attempts"] == 2
    assert failed["required"] is True
    assert failed["error"] == "ConnectionRefusedError: port 5432"
    assert failed["duration_ms"] > 0
    assert failed["errorType"] == "ConnectionRefusedError"  # awslambdaric's, from exc_info
    settled = json_lines.event("inits_settled")
    assert settled["status"] == "failed"
    assert settled["inits"][0]["error"] == "ConnectionRefusedError: port 5432"


def test_an_invocation_that_waits_says_so(json_lines: JsonLines) -> None:
    warmup = Warmup(settings=Settings())
    try:

        @warmup.init
        async def slow() -> str:
            await anyio.sleep(0.2)
            return "done"

        @warmup.handler
        def handler(event: Any, context: Any) -> str:
            return slow.value

        before_ms = time.time() * 1000 - 0.1  # fields are rounded to 0.1 ms
        assert handler({}, Context()) == "done"
        after_ms = time.time() * 1000 + 0.1
        assert handler({}, Context()) == "done"  # all ok: no second line
    finally:
        warmup.close()
    line = json_lines.event("invocation_waited")
    assert line["level"] == "INFO"
    assert line["inits"] == ["slow"]
    assert before_ms <= line["start_ms"] <= line["end_ms"] <= after_ms
    assert line["waited_ms"] == pytest.approx(line["end_ms"] - line["start_ms"], abs=0.2)
    assert line["waited_ms"] >= 100
    assert line["message"].startswith("lambda-warmup: invocation waited ")


def test_emf_document_when_the_inits_settle(
    json_lines: JsonLines, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(metrics=True, metrics_namespace="Shop", service="orders")
    warmup = Warmup(settings=settings)
    out: list[str] = []
    try:
        declare_three(warmup)

        @warmup.init(required=False)
        async def broken() -> None:
            raise ValueError("bad")

        deadline = time.monotonic() + 10
        while not any('"_aws"' in line for line in out):
            if time.monotonic() > deadline:
                raise AssertionError(f"no EMF document on stdout within 10 s: {out}")
            time.sleep(0.01)
            out.extend(capsys.readouterr().out.splitlines())
    finally:
        warmup.close()
    out.extend(capsys.readouterr().out.splitlines())
    (line,) = out  # one document, nothing else on stdout
    document = json.loads(line)
    validate_emf(document)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Shop"
    assert directive["Dimensions"] == [["service"]]
    assert document["service"] == "orders"
    assert document["InitType"] == "on-demand"
    assert abs(document["_aws"]["Timestamp"] - time.time() * 1000) < 60_000
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units["Init.config.Duration"] == "Milliseconds"
    assert units["Init.flaky.Attempts"] == "Count"
    assert document["Init.config.Duration"] >= 100
    assert (document["Init.flaky.Attempts"], document["Init.flaky.Failed"]) == (2, 0)
    assert (document["Init.broken.Attempts"], document["Init.broken.Failed"]) == (1, 1)
    assert document["InitsFailed"] == 1
    assert document["ColdStart"] == 1
    assert document["InitsDuration"] >= 100
    assert document["ProcessToSettled"] >= document["InitsDuration"]


def test_emf_splits_past_100_metrics_in_one_document() -> None:
    from lambda_warmup._emf import init_metrics_document

    warmup = Warmup(settings=Settings())
    try:
        for index in range(40):  # 120 metrics of inits, and the totals

            async def init() -> int:
                return 1

            warmup.init(name=f"init{index}")(init)
        warmup.run(warmup.wait_inits_settled)
        report: Any = {"duration_ms": 1.0, "status": "ok"}
        document = init_metrics_document(
            warmup.handles, report, Settings(init_type="provisioned-concurrency")
        )
    finally:
        warmup.close()
    validate_emf(document)
    sizes = [len(d["Metrics"]) for d in document["_aws"]["CloudWatchMetrics"]]
    assert sizes == [100, 24], sizes
    assert document["ColdStart"] == 0


def test_emf_validation_catches_what_the_specification_forbids() -> None:
    """The validator itself: each document breaks one rule of the specification."""
    good: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {"Namespace": "N", "Dimensions": [["service"]], "Metrics": [{"Name": "M"}]}
            ],
        },
        "service": "s",
        "M": 1.5,
    }
    validate_emf(good)
    directive = {"Namespace": "N", "Dimensions": [], "Metrics": [{"Name": "M", "Unit": "ms"}]}
    broken = [
        {**good, "_aws": {**good["_aws"], "Timestamp": 1.5}},
        {**good, "service": 3},
        {**good, "M": "1"},
        {key: value for key, value in good.items() if key != "M"},
        {**good, "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{**directive, "Namespace": ""}]}},
        {**good, "_aws": {"Timestamp": 1, "CloudWatchMetrics": [directive]}},
    ]
    for document in broken:
        with pytest.raises(AssertionError):
            validate_emf(document)
