"""Unit tests of the ``lambda-warmup/1`` report parser."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extension_entry._report import ReportError, parse_report
from tests.support.extension import make_report


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_valid_report() -> None:
    report = parse_report(encode(make_report()))
    assert (report.status, report.pid, report.workers) == ("ok", 4242, 1)
    assert [init.name for init in report.inits] == ["settings", "db_pool"]
    assert report.describe() == "settings 12 ms, db_pool 800 ms"


def test_failed_report_describes_the_error() -> None:
    inits = make_report()["inits"]
    inits[1].update(
        status="failed",
        duration_ms=5001.0,
        attempts=3,
        error="InitTimeoutError: init 'db_pool' timed out after 5.0 s",
    )
    report = parse_report(encode(make_report(status="failed", inits=inits)))
    assert report.status == "failed"
    assert report.describe() == (
        "settings 12 ms, db_pool failed after 3 attempts (5001 ms): "
        "InitTimeoutError: init 'db_pool' timed out after 5.0 s"
    )


def test_unknown_fields_are_ignored() -> None:
    assert parse_report(encode(make_report(extra={"x": 1}))).pid == 4242


def test_no_inits_is_valid() -> None:
    assert parse_report(encode(make_report(inits=[]))).describe() == "no inits"


def _without(key: str) -> dict[str, Any]:
    report = make_report()
    del report[key]
    return report


def _init_with(**fields: Any) -> dict[str, Any]:
    report = make_report()
    report["inits"][0].update(fields)
    return report


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"pid": NaN}', "NaN"),
        (encode([1, 2]), "JSON object, not list"),
        (encode(make_report(format="lambda-warmup/2")), "'format'"),
        (encode(_without("format")), "'format'"),
        (encode(make_report(status="done")), "status"),
        (encode(_without("pid")), "pid"),
        (encode(make_report(pid=0)), "pid"),
        (encode(make_report(pid="123")), "pid"),
        (encode(make_report(pid=True)), "pid"),
        (encode(make_report(workers=0)), "workers"),
        (encode(make_report(workers=10**6)), "workers"),
        (encode(make_report(duration_ms=-1)), "duration_ms"),
        (encode(make_report(duration_ms="1")), "duration_ms"),
        (encode(make_report(inits={})), "'inits' must be a list"),
        (encode(_without("inits")), "'inits' must be a list"),
        (encode(make_report(inits=[1])), "inits[0] must be an object"),
        (encode(_init_with(name="")), "inits[0].name"),
        (encode(_init_with(required="yes")), "inits[0].required"),
        (encode(_init_with(status="maybe")), "inits[0].status"),
        (encode(_init_with(attempts=-1)), "inits[0].attempts"),
        (encode(_init_with(error=42)), "inits[0].error"),
        (b"[" * 100_000, "JSON"),
    ],
)
def test_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_report(body)
    assert reason in str(caught.value)


def test_many_inits_are_described_in_one_short_line() -> None:
    inits = [dict(make_report()["inits"][0], name=f"init_{i}") for i in range(500)]
    inits[400].update(status="failed", attempts=1, error="E" * 1000)
    report = parse_report(encode(make_report(status="failed", inits=inits, inits_omitted=7)))
    line = report.describe()
    assert line.startswith("init_0 12 ms, ")
    assert f"init_400 failed after 1 attempt (12 ms): {'E' * 197}..., and 497 more" in line
    assert len(line) < 500


def test_inits_omitted_must_be_a_count() -> None:
    with pytest.raises(ReportError, match="'inits_omitted' must be a whole number >= 0"):
        parse_report(encode(make_report(inits_omitted=-1)))
