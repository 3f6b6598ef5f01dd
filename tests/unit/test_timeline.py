"""The timeline's parts without a sandbox: the JSON log lines' contract, the model made from
records (spans, rows, the critical path) and the HTML it is drawn into."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lambda_sandbox import FunctionSpec
from lambda_sandbox._cli import _with_json_logs
from lambda_sandbox._init_logs import (
    ExtensionEvent,
    InitsSettled,
    InitWait,
    InvocationWaited,
    parse_line,
)
from lambda_sandbox._timeline import NO_INIT_DETAIL, Span, Timeline, build_timeline
from lambda_sandbox._timeline_html import GAP_PX, render_html
from tests.support import timeline_records as synthetic

EXT_ROW = "extension lambda-warmup"
EPOCH_MS = synthetic.T0 * 1000
SVG = "{http://www.w3.org/2000/svg}"


def _labels(timeline: Timeline, row: str) -> list[str]:
    return [s.label for s in timeline.spans if s.row == row]


def _span(timeline: Timeline, row: str, label: str) -> Span:
    (found,) = [s for s in timeline.spans if s.row == row and s.label.startswith(label)]
    return found


# --------------------------------------------------------------------------- the log lines


def test_the_librarys_summary_line_is_read_field_by_field() -> None:
    line = json.dumps(synthetic.inits_settled())
    parsed = parse_line("function", line, read_ms=EPOCH_MS + 401)
    assert isinstance(parsed, InitsSettled)
    assert parsed.status == "ok"
    assert parsed.duration_ms == 280.0
    assert parsed.import_done_ms == EPOCH_MS + synthetic.IMPORT_DONE
    config, client = parsed.inits
    assert (config.name, config.required, config.attempts, config.waits) == ("config", True, 1, ())
    assert client.attempt_spans == tuple(
        (EPOCH_MS + a, EPOCH_MS + b) for a, b in synthetic.CLIENT_ATTEMPTS
    )
    assert client.waits == (InitWait("config", EPOCH_MS + 125, EPOCH_MS + 270),)
    assert parsed.settled_ms == EPOCH_MS + synthetic.CLIENT_ATTEMPTS[-1][1]


def test_the_invocation_wait_and_the_extensions_lines() -> None:
    waited = parse_line("function", json.dumps(synthetic.invocation_waited(700, 703)), 0.0)
    assert waited == InvocationWaited(0.0, 3.0, EPOCH_MS + 700, EPOCH_MS + 703, ("client",))
    line = {"timestamp": "2026-12-03T16:57:23.250Z", "level": "INFO", "message": "released",
            "logger": "lambda-warmup", "event": "hold_ended", "held_ms": 612.5}  # fmt: skip
    event = parse_line("lambda-warmup", json.dumps(line), read_ms=1.0)
    assert isinstance(event, ExtensionEvent)
    assert (event.extension, event.event, event.held_ms) == ("lambda-warmup", "hold_ended", 612.5)
    at = datetime(2026, 12, 3, 16, 57, 23, 250_000, UTC).timestamp() * 1000
    assert event.at_ms == at  # from the timestamp, which has milliseconds
    # A whole-second timestamp would place it up to a second early: the read time is used.
    # An extension that tags its lines with its name is read all the same.
    whole = {**line, "timestamp": "2026-12-03T16:57:23Z", "event": "report_received"}
    del whole["held_ms"]
    event = parse_line("lambda-warmup", "[lambda-warmup] " + json.dumps(whole), read_ms=5.0)
    assert isinstance(event, ExtensionEvent)
    assert (event.event, event.at_ms, event.held_ms) == ("report_received", 5.0, None)


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("function", "lambda-warmup: 2 init(s) settled in 282.2 ms"),  # the text format
        ("function", '{"logger": "app", "event": "inits_settled", "inits": []}'),
        ("function", '{"logger": "lambda_warmup", "event": "something_else"}'),
        ("function", '{"logger": "lambda_warmup", "event": "invocation_waited"}'),  # no times
        ("function", '["not", "an", "object"]'),
        ("function", '{"logger": "lambda_warmup", "event": "inits_settled"'),  # cut short
        ("lambda-warmup", '{"logger": "lambda-warmup", "event": "listening"}'),
        ("lambda-warmup", "[lambda-warmup] hold started: up to 5000 ms"),
    ],
)
def test_lines_outside_the_contract_are_skipped(source: str, line: str) -> None:
    assert parse_line(source, line, 0.0) is None


def test_bad_fields_are_left_out_not_fatal() -> None:
    doc: dict[str, Any] = synthetic.inits_settled()
    doc["import_done_ms"] = "soon"
    doc["inits"][0]["attempt_spans"] = [[1, "x"], [5, 2], [1, 2, 3], [10, 20]]
    doc["inits"][1]["waits"] = [{"on": 3}, {"on": "config", "start_ms": 9, "end_ms": 1}]
    doc["inits"].append({"required": True})  # no name
    doc["inits"].append("config")
    parsed = parse_line("function", json.dumps(doc), 0.0)
    assert isinstance(parsed, InitsSettled)
    assert parsed.import_done_ms is None
    assert [i.name for i in parsed.inits] == ["config", "client"]
    assert parsed.inits[0].attempt_spans == ((10.0, 20.0),)
    assert parsed.inits[1].waits == ()


# ------------------------------------------------------------------------------- the model


def test_a_held_init_and_its_critical_path() -> None:
    timeline = build_timeline(synthetic.held_records(), title="held")
    assert timeline.rows == [
        "sandbox", EXT_ROW, "runtime", "init config", "init client", "invocations",
    ]  # fmt: skip
    assert timeline.notes == []
    assert timeline.init_ends == [synthetic.INIT_END]
    # Epoch times from the log lines land on the records' clock.
    assert _span(timeline, "init config", "config").start_ms == pytest.approx(120.0)
    assert _span(timeline, "runtime", "start + import").end_ms == pytest.approx(300.0)
    assert _labels(timeline, "init client") == [
        "attempt 1", "backoff", "attempt 2", "awaits config",
    ]  # fmt: skip
    kinds = [s.kind for s in timeline.spans if s.row == "init client"]
    assert kinds == ["attempt-failed", "backoff", "attempt", "wait"]
    assert _labels(timeline, EXT_ROW) == ["start → register", "holds INIT", "report → next"]
    assert _span(timeline, EXT_ROW, "holds INIT").detail == "held INIT 343 ms"
    assert [s.label for s in timeline.spans if s.kind == "frozen"] == [
        "frozen 294 ms", "frozen 395 ms", "frozen 0.6 ms",
    ]  # fmt: skip
    assert _labels(timeline, "invocations") == ["invoke 1 6.0 ms", "invoke 2 3.0 ms"]
    (path,) = timeline.critical_paths
    assert [(step.row, step.label) for step in path] == [
        (EXT_ROW, "start → register"),
        ("runtime", "start + import"),
        ("init config", "config"),
        ("init client", "attempt 1"),
        ("init client", "backoff"),
        ("init client", "attempt 2"),
        (EXT_ROW, "report"),
        (EXT_ROW, "report → next"),
    ]
    # The wait is critical too (drawn outlined), though the list leaves overlays out.
    assert _span(timeline, "init client", "awaits config").critical
    assert not _span(timeline, "runtime", "→ next").critical
    assert not _span(timeline, EXT_ROW, "holds INIT").critical


def test_without_the_hold_init_ends_at_the_runtimes_next_and_the_invocation_waits() -> None:
    timeline = build_timeline(synthetic.unheld_records())
    (path,) = timeline.critical_paths
    assert [(step.row, step.label) for step in path] == [
        (EXT_ROW, "start → register"),
        ("runtime", "start + import"),
        ("runtime", "→ next"),
    ]
    assert _labels(timeline, EXT_ROW) == ["start → register", "register → next"]
    waited = _span(timeline, "runtime", "waited for client")
    invoke_1 = _span(timeline, "invocations", "invoke 1")
    assert waited.overlay
    assert invoke_1.start_ms < waited.start_ms < waited.end_ms < invoke_1.end_ms
    # client's retry waited out the frozen gap and ran inside the first invocation.
    retry = _span(timeline, "init client", "attempt 2")
    assert invoke_1.start_ms < retry.start_ms < retry.end_ms < invoke_1.end_ms
    assert not any(s.critical for s in timeline.spans if s.row.startswith("init "))


def test_without_json_lines_the_picture_has_what_the_sandbox_saw() -> None:
    records = [
        r for r in synthetic.held_records() if not (r["event"] == "log" and "{" in r["line"])
    ]
    timeline = build_timeline(records)
    assert timeline.notes == [NO_INIT_DETAIL]
    assert timeline.rows == ["sandbox", EXT_ROW, "runtime", "invocations"]
    assert _labels(timeline, "runtime") == ["start + import → next", "handler 1", "handler 2"]
    (path,) = timeline.critical_paths
    assert [(step.row, step.label) for step in path] == [
        (EXT_ROW, "start → register"),
        (EXT_ROW, "register → next"),  # the extension's next came last
    ]


def test_a_hold_that_ended_without_a_report_is_the_critical_path() -> None:
    records = [
        r
        for r in synthetic.held_records()
        if not (r["event"] == "log" and ("report_received" in r["line"] or "inits" in r["line"]))
    ]
    timeline = build_timeline(records)
    (path,) = timeline.critical_paths
    assert [(step.row, step.label) for step in path] == [
        (EXT_ROW, "start → register"),
        (EXT_ROW, "holds INIT (no report)"),
    ]


def test_an_init_that_failed_and_an_unfinished_sandbox() -> None:
    records: list[dict[str, Any]] = [
        {"event": "init_start", "t_ms": 1.0, "ts": 100.001, "phase": "init"},
        {"event": "process_start", "t_ms": 2.0, "ts": 100.002, "name": "holder",
         "kind": "extension"},
        {"event": "init_end", "t_ms": 90.0, "ts": 100.09, "phase": "init", "status": "timeout"},
    ]  # fmt: skip
    timeline = build_timeline(records)
    assert _labels(timeline, "sandbox") == ["INIT 89 ms (timeout)"]
    assert _labels(timeline, "extension holder") == ["start (never registered)"]
    assert timeline.critical_paths == [[]]


# -------------------------------------------------------------------------------- the page


def test_the_page_is_well_formed_and_escapes_what_it_shows() -> None:
    records = synthetic.held_records()
    for rec in records:
        if rec["event"] == "log" and "inits_settled" in rec["line"]:
            rec["line"] = rec["line"].replace('"config"', '"a<b>&c"')
    page = render_html(build_timeline(records, title="<fn> & co"))
    assert "<title>&lt;fn&gt; &amp; co — timeline</title>" in page
    svg = re.search(r"<svg .*</svg>", page, re.S)
    assert svg is not None
    root = ET.fromstring(svg.group(0))  # the chart is well-formed XML
    rows = [t.text for t in root.iter(f"{SVG}text") if t.get("data-row")]
    assert "init a<b>&c" in rows
    groups = [g for g in root.iter(f"{SVG}g") if g.get("data-label")]
    assert {g.get("data-label") for g in groups} >= {"awaits a<b>&c", "attempt 2", "report"}
    assert not re.search(r"<(script|link|img)\b|https?://(?!www\.w3\.org)", page)


def test_a_long_frozen_gap_is_cut_to_a_fixed_width() -> None:
    records = synthetic.held_records()
    for rec in records:  # the second invocation an hour later
        if rec["t_ms"] >= synthetic.INVOKE_2[0]:
            rec["t_ms"] += 3_600_000
            rec["ts"] += 3_600
    page = render_html(build_timeline(records))
    root = ET.fromstring(re.search(r"<svg .*</svg>", page, re.S).group(0))  # type: ignore[union-attr]
    frozen = [
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-kind") == "frozen"
    ]
    widths = {
        g.get("data-label"): float(g.find("{http://www.w3.org/2000/svg}rect").get("width"))  # type: ignore[union-attr, arg-type]
        for g in frozen
    }
    assert widths["frozen 3600.4 s"] == GAP_PX
    assert widths["frozen 294 ms"] == GAP_PX
    # The INIT keeps most of the chart's width.
    init = next(
        g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-kind") == "init-phase"
    )
    assert float(init.find("{http://www.w3.org/2000/svg}rect").get("width")) > 600  # type: ignore[union-attr, arg-type]


def test_timeline_runs_use_json_logs_unless_the_function_chose(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = FunctionSpec(code_dir=Path("."), handler="app.handler", environment={"A": "1"})
    assert _with_json_logs(spec).environment == {
        "A": "1",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",  # Lambda's default level for the JSON format
    }
    assert "AWS_LAMBDA_LOG_FORMAT=JSON, AWS_LAMBDA_LOG_LEVEL=INFO" in capsys.readouterr().err
    debug = FunctionSpec(spec.code_dir, spec.handler, environment={"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    assert _with_json_logs(debug).environment["AWS_LAMBDA_LOG_LEVEL"] == "DEBUG"
    text = FunctionSpec(spec.code_dir, spec.handler, environment={"AWS_LAMBDA_LOG_FORMAT": "Text"})
    assert _with_json_logs(text) is text
    assert "without JSON log lines the timeline has no init detail" in capsys.readouterr().err


def test_snapstart_checkpoint_and_restore_are_on_the_sandbox_row() -> None:
    records: list[dict[str, Any]] = [
        {"event": "init_start", "t_ms": 1.0, "ts": 100.001, "phase": "init"},
        {"event": "runtime_restore_next", "t_ms": 80.0, "ts": 100.08},
        {"event": "init_end", "t_ms": 81.0, "ts": 100.081, "status": "success"},
        {"event": "snapshot", "t_ms": 181.0, "ts": 100.181, "duration_ms": 100.0},
        {"event": "restore_start", "t_ms": 300.0, "ts": 100.3, "restore": 1},
        {"event": "restore_end", "t_ms": 380.0, "ts": 100.38, "duration_ms": 80.0},
    ]
    timeline = build_timeline(records)
    assert [(s.label, s.start_ms, s.end_ms) for s in timeline.spans if s.row == "sandbox"] == [
        ("snapshot 100 ms", 81.0, 181.0),
        ("restore 80 ms", 300.0, 380.0),
        ("INIT 80 ms", 1.0, 81.0),
    ]
