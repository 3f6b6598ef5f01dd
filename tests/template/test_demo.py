"""The demo's own logic, without processes: its table, and its answer when nothing is built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo import __main__ as demo_main
from demo import observed, runner
from lambda_sandbox import InvokeResult


def _outcome(
    scenario: runner.Scenario, init: float, first: float, pending: list[str]
) -> runner.Outcome:
    return runner.Outcome(scenario, init, first, pending, 3, 2.5, {})


def test_table_rows_and_caller_wait() -> None:
    on_demand, _, _, provisioned, _, _ = runner.SCENARIOS
    rows = [
        _outcome(on_demand, 150.0, 1500.0, ["settings", "catalog"]),
        _outcome(provisioned, 1600.0, 8.0, []),
    ]
    lines = runner.table(rows).splitlines()
    assert lines[0].split()[:4] == ["sample", "start", "hold", "INIT"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split()[:3] == ["async", "on-demand", "no"]
    assert "1 of 3 (waited for settings, catalog)" in lines[2]
    assert "1650 ms" in lines[2]  # on-demand: the caller waits for INIT + the invocation
    assert lines[3].split()[:3] == ["async", "provisioned", "yes"]
    assert "3 of 3" in lines[3]
    assert lines[3].split().count("8") == 2  # provisioned: the caller waits for the invocation only
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule line up


def test_scenarios_cover_both_starts_with_and_without_the_hold() -> None:
    combos = {(s.init_type, s.hold) for s in runner.SCENARIOS if "Async" in s.function}
    assert combos == {
        (init_type, hold)
        for init_type in ("on-demand", "provisioned-concurrency")
        for hold in (False, True)
    }


def _invoked(payload: dict[str, object]) -> InvokeResult:
    return InvokeResult(
        request_id="r1",
        status="success",
        payload=json.dumps(payload).encode(),
        error_type=None,
        duration_ms=3.0,
        billed_duration_ms=3,
        max_memory_used_mb=80,
        init_duration_ms=None,
        restore_duration_ms=None,
        suppressed_init=None,
        response_ms=2.0,
        runtime_done_ms=2.5,
        extensions_done_ms={},
        logs=[],
    )


def test_the_web_samples_http_answer_is_read_from_its_body_and_arrival_header() -> None:
    """The web sample answers HTTP (function URL): the table takes its JSON body, and its one
    init, ``lifespan``, as pending on arrival when its ``x-lifespan-on-arrival`` header says so."""
    body = '{"sku": "SKU-1", "backend_pid": 42}'

    def result(arrival: str) -> InvokeResult:
        payload = {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "x-lifespan-on-arrival": arrival},
            "body": body,
        }
        return _invoked(payload)

    assert runner.answer(result("pending")) == (json.loads(body), ["lifespan"], ["lifespan"])
    assert runner.answer(result("ready")) == (json.loads(body), ["lifespan"], [])
    orders = {"order_id": 1, "arrival": {"inits": ["db", "queue"], "pending_inits": ["db"]}}
    ordered = _invoked(orders)
    assert runner.answer(ordered) == (orders, ["db", "queue"], ["db"])


def test_demo_without_a_build_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo_main.main(["--build-dir", str(tmp_path / "nothing")]) == 2
    assert "make build" in capsys.readouterr().err


#: An invocation's log as the quotes sample writes it (shortened): the extension's text, the
#: Logger's JSON line, Metrics' two EMF documents.
_LOGS = [
    "[lambda-warmup] INIT held 812 ms",
    '{"level":"INFO","location":"quote:81","message":"quoted","timestamp":"2026-12-03 16:54:47,949'
    '+0000","service":"quotes","cold_start":true,"function_name":"QuotesAsyncFunction",'
    '"function_request_id":"3e776df7","query":"oak chair","skus":["SKU-004001"]}',
    '{"_aws":{"Timestamp":1796316887950,"CloudWatchMetrics":[{"Namespace":"LambdaWarmupSamples",'
    '"Dimensions":[["function_name","service"]],"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},'
    '"function_name":"QuotesAsyncFunction","service":"quotes","ColdStart":[1.0]}',
    '{"_aws":{"Timestamp":1796316887950,"CloudWatchMetrics":[{"Namespace":"LambdaWarmupSamples",'
    '"Dimensions":[["service"]],"Metrics":[{"Name":"QuotesServed","Unit":"Count"}]}]},'
    '"service":"quotes","QuotesServed":[3.0]}',
]


def test_powertools_output_is_shortened_to_its_own_fields_and_the_metrics() -> None:
    lines = observed.invocation_lines("1st invocation", _LOGS)
    assert lines[0].startswith("  1st invocation  INFO quoted: ")
    assert max(len(line) for line in lines) <= 100  # wrapped, the continuations indented
    assert all(line.startswith(" " * 18) for line in lines[1:])
    assert " ".join(" ".join(lines).split()) == (
        '1st invocation INFO quoted: service="quotes" cold_start=true'
        ' function_request_id="3e776df7" query="oak chair" skus=["SKU-004001"]'
        " EMF LambdaWarmupSamples: ColdStart=1 QuotesServed=3"
    )
    short = observed.invocation_lines("warm", _LOGS, ["cold_start"])
    assert short[0] == "  warm  INFO quoted: cold_start=true"
    assert observed.invocation_lines("warm", ["plain text"]) == ["  warm  (no Powertools output)"]
