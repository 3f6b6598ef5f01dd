"""The completion report: its format, its timing (never early) and its delivery."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path
from typing import Any

import anyio
import pytest

from lambda_warmup import Settings, Warmup
from lambda_warmup._import_watch import module_importing
from lambda_warmup._report import InitEntry, Report, encode_report
from tests.support.library import LoopbackServer, settle
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[3]


def wait_for(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.005)


def received(server: LoopbackServer) -> list[dict[str, Any]]:
    """The reports ``server`` was sent, each checked to be a JSON POST to /report."""
    reports = []
    for path, headers, body, _ in server.posts:
        assert path == "/report"
        assert {k.lower(): v for k, v in headers.items()}["content-type"] == "application/json"
        reports.append(json.loads(body))
    return reports


def reporting_warmup(server: LoopbackServer, *, extension_expected: bool = True) -> Warmup:
    """A Warmup that reports to ``server``, a real listener on a port of its own."""
    return Warmup(settings=Settings(extension_expected=extension_expected, port=server.port))


def test_report_format(loopback_server: LoopbackServer):
    warmup = reporting_warmup(loopback_server)
    declared = threading.Event()  # declared in a function, not at import: nothing to watch
    try:

        @warmup.init
        async def settings() -> dict[str, str]:
            await anyio.to_thread.run_sync(declared.wait, 5)
            return {"secret": "do-not-log-me"}

        @warmup.init(required=False)
        async def cache() -> None:
            raise ValueError("x" * 2000)

        @warmup.init(retries=1, backoff=0)
        async def db() -> str:
            return "pool"

        declared.set()
        wait_for(loopback_server.posted.is_set, "the report")
    finally:
        warmup.close(1)
    (report,) = received(loopback_server)
    assert report["format"] == "lambda-warmup/1"
    assert report["status"] == "ok"  # only an optional init failed
    assert report["pid"] == os.getpid()
    assert report["workers"] == 1
    assert report["duration_ms"] >= 0
    assert [i["name"] for i in report["inits"]] == ["settings", "cache", "db"]
    cache_entry = report["inits"][1]
    assert cache_entry["status"] == "failed"
    assert cache_entry["required"] is False
    assert cache_entry["attempts"] == 1
    assert cache_entry["error"].startswith("ValueError: xxx")
    assert len(cache_entry["error"]) == 500
    assert report["inits"][0]["error"] is None
    assert "do-not-log-me" not in json.dumps(report)  # values never leave the process


def test_report_failed_when_a_required_init_fails(loopback_server: LoopbackServer):
    warmup = reporting_warmup(loopback_server)
    try:

        @warmup.init
        async def secrets() -> None:
            raise PermissionError("denied")

        wait_for(loopback_server.posted.is_set, "the report")
    finally:
        warmup.close(1)
    (report,) = received(loopback_server)
    assert report["status"] == "failed"
    assert report["inits"][0]["error"] == "PermissionError: denied"


def test_no_report_without_warming_timeout(
    loopback_server: LoopbackServer, caplog: pytest.LogCaptureFixture
):
    warmup = reporting_warmup(loopback_server, extension_expected=False)
    try:
        with caplog.at_level(logging.DEBUG, logger="lambda_warmup"):

            @warmup.init
            async def one() -> int:
                return 1

            settle(one)
            wait_for(
                lambda: "no extension awaits the report" in caplog.text,
                "the report to be built, and not sent",
            )
    finally:
        warmup.close(1)
    assert loopback_server.posts == []


def test_no_extension_is_one_log_line_and_no_wait(caplog: pytest.LogCaptureFixture):
    port = free_port()  # a port nobody listens on
    warmup = Warmup(settings=Settings(extension_expected=True, port=port))
    try:
        with caplog.at_level(logging.WARNING, logger="lambda_warmup"):

            @warmup.init
            async def one() -> int:
                return 1

            @warmup.handler
            def handler(event: object, context: object) -> int:
                return one.value

            assert handler({}, None) == 1
            wait_for(lambda: caplog.records, "the delivery failure to be logged", timeout=5)
    finally:
        warmup.close(1)
    (record,) = caplog.records
    assert record.getMessage().startswith(
        f"lambda-warmup: report not delivered to http://127.0.0.1:{port}/report (ConnectError"
    )


def test_report_refused_is_logged(loopback_server: LoopbackServer, caplog):
    loopback_server.post_status = 400
    warmup = Warmup(settings=Settings(extension_expected=True, port=loopback_server.port))
    try:
        with caplog.at_level(logging.WARNING, logger="lambda_warmup"):

            @warmup.init
            async def one() -> int:
                return 1

            wait_for(lambda: caplog.records, "the refusal to be logged", timeout=5)
    finally:
        warmup.close(1)
    assert "report refused by" in caplog.records[0].getMessage()
    assert "HTTP 400" in caplog.records[0].getMessage()


HANDLER_MODULE = textwrap.dedent(
    """
    import sys
    import time

    from lambda_warmup import warm_handler, warm_init

    @warm_init
    async def first():
        return 1

    time.sleep(0.3)  # a slow import between the two declarations

    @warm_init
    async def second():
        return 2

    @warm_handler
    def handler(event, context):
        return first.value + second.value
    """
)


def test_report_waits_for_the_whole_handler_module(tmp_path: Path, loopback_server):
    """Init A, then a slow import, then init B: the report comes after both, never after A."""
    (tmp_path / "app.py").write_text(HANDLER_MODULE)
    driver = "import app; print(app.handler({}, None), flush=True); import sys; sys.stdin.read()"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
        "_HANDLER": "app.handler",
        "WARMING_TIMEOUT": "5000",
        "WARMUP_PORT": str(loopback_server.port),
    }
    with subprocess.Popen(
        [sys.executable, "-c", driver],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "3"
            assert loopback_server.posted.wait(10), "no report within 10 s of the import"
        finally:
            process.communicate("", timeout=10)
    (report,) = [json.loads(body) for _, _, body, _ in loopback_server.posts]
    assert [i["name"] for i in report["inits"]] == ["first", "second"]
    assert report["pid"] == process.pid


def test_module_importing_fallback_without_the_private_flag(monkeypatch):
    module = types.ModuleType("fake_handler_module")
    module.__spec__ = types.SimpleNamespace()  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "fake_handler_module", module)
    assert module_importing("fake_handler_module", "handler")  # handler not bound yet
    module.handler = lambda event, context: None  # type: ignore[attr-defined]
    assert not module_importing("fake_handler_module", "handler")
    assert not module_importing("never_imported_module", "handler")


def test_report_cut_to_fit_keeps_the_failed_inits() -> None:
    inits: list[InitEntry] = [
        {
            "name": f"init_{i}",
            "required": True,
            "status": "ok",
            "duration_ms": 1.0,
            "attempts": 1,
            "error": None,
        }
        for i in range(3000)
    ]
    inits[-1]["status"] = "failed"
    inits[-1]["error"] = "RuntimeError: late failure"
    report: Report = {
        "format": "lambda-warmup/1",
        "status": "failed",
        "pid": 1,
        "workers": 1,
        "duration_ms": 1.0,
        "inits": inits,
    }
    body = encode_report(report, limit=4096)
    sent = json.loads(body)
    assert len(body) <= 4096
    assert sent["inits"][0]["name"] == "init_2999"
    assert len(sent["inits"]) + sent["inits_omitted"] == 3000
    assert (
        encode_report({**report, "inits": inits[:3]})
        == json.dumps({**report, "inits": inits[:3]}, separators=(",", ":")).encode()
    )


def test_a_handler_without_inits_still_reports(loopback_server: LoopbackServer):
    """The hold is asked for (WARMING_TIMEOUT) but nothing to wait for: report at once."""
    warmup = reporting_warmup(loopback_server)
    try:

        @warmup.handler
        def handler(event: object, context: object) -> int:
            return 1

        wait_for(loopback_server.posted.is_set, "the report of a module with no inits")
    finally:
        warmup.close(1)
    (report,) = received(loopback_server)
    assert report["status"] == "ok"
    assert report["inits"] == []


def test_a_handler_without_inits_and_without_hold_starts_nothing():
    warmup = Warmup(settings=Settings(extension_expected=False))

    @warmup.handler
    def handler(event: object, context: object) -> int:
        return 1

    assert handler({}, None) == 1
    assert not warmup._loop.running  # no loop thread for a sync handler with nothing to wait for
