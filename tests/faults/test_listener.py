"""Abuse of the report listener during the hold: every request gets a bounded answer and one
log line, and the function's own report still releases the hold."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.extension import make_report, post
from tests.support.faults import EXT, MakeRun, Run

from .matrix import row

pytestmark = pytest.mark.e2e

#: One init that waits (bounded) for the test to create ``$TMPDIR/go``, so the abuse happens
#: while the extension holds INIT.
GATED_APP = """
    import os, time
    import anyio
    from lambda_warmup import warm_handler, warm_init

    @warm_init
    async def gated():
        go = os.path.join(os.environ["TMPDIR"], "go")
        for _ in range(1000):
            if os.path.exists(go):
                break
            await anyio.sleep(0.01)
        return os.environ["SECRET"]

    @warm_handler
    def handler(event, context):
        time.sleep(event.get("sleep", 0))  # the warm loop and the extension run meanwhile
        return len(gated.value)
"""


def during_the_hold(run: Run, abuse: Callable[[int], Any], thawed_s: float = 0.3) -> Any:
    """Start INIT; once the hold started, ``abuse(port)``, then let the init finish. Returns what
    ``abuse`` returned, after checking that the function serves (in an invocation that keeps the
    sandbox thawed for ``thawed_s``)."""
    outcome: dict[str, Any] = {}

    def act() -> None:
        try:
            run.wait_line("hold started", timeout=10)
            outcome["value"] = abuse(run.port)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error
        finally:
            (Path(run.sandbox.tmp_dir) / "go").touch()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    init = run.start()
    thread.join(15)
    if "error" in outcome:
        raise outcome["error"]
    assert init.status == "success", (init, run.output())
    result = run.invoke({"sleep": thawed_s})
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == 22
    return outcome.get("value")


def _fault(fault: MakeRun) -> Run:
    return fault(GATED_APP, env={"WARMING_TIMEOUT": "8s", "WARMUP_REPORT_TIMEOUT": "5s"})


@row(
    "Listener",
    "malformed JSON, a report of the wrong form, a body that is not UTF-8",
    "nothing: the request is answered 400 with the reason; the hold goes on",
    "extension: `rejected POST /report from 127.0.0.1:N: 400 not a lambda-warmup/1 report: "
    "body is not JSON: Expecting property name enclosed in double quotes at character 1`",
)
def test_malformed_json(fault: MakeRun) -> None:
    run = _fault(fault)
    bodies = [b"{not json", b'{"format": "lambda-warmup/1"}', b"\xff\xfe"]
    answers = during_the_hold(run, lambda port: [post(port, body) for body in bodies])
    assert [status for status, _ in answers] == [400, 400, 400]
    assert b"body is not JSON" in answers[0][1]
    rejected = run.ext("rejected POST /report from 127.0.0.1:")
    assert len(rejected) == 3, run.output()
    assert ": 400 not a lambda-warmup/1 report: body is not JSON: Expecting" in rejected[0]
    assert "report ok from pid" in run.released(), run.output()


@row(
    "Listener",
    "wrong method (`GET /report`) or path (`POST /other`)",
    "nothing: 405 (with `Allow: POST`) or 404",
    "extension: `rejected GET /report from 127.0.0.1:N: 405 GET /report: only POST is "
    "accepted`, `... 404 POST /other: the only path is /report`",
)
def test_wrong_method_or_path(fault: MakeRun) -> None:
    run = _fault(fault)
    answers = during_the_hold(
        run, lambda port: [post(port, b"{}", method="GET"), post(port, b"{}", path="/other")]
    )
    assert [status for status, _ in answers] == [405, 404]
    assert run.ext("405 GET /report: only POST is accepted"), run.output()
    assert run.ext("404 POST /other: the only path is /report"), run.output()
    assert "report ok from pid" in run.released(), run.output()


@row(
    "Listener",
    "oversized body (1 MiB), or a `Content-Length` of 10 GB with no body",
    "nothing: 413 at once, the body is not read",
    "extension: `rejected POST /report from 127.0.0.1:N: 413 POST /report: body of 1048576 "
    "bytes is over the 65536 byte limit`",
)
def test_oversized_body(fault: MakeRun) -> None:
    run = _fault(fault)

    def abuse(port: int) -> list[int]:
        big = post(port, b"x" * (1 << 20))[0]
        started = time.monotonic()
        liar = post(port, b"", headers={"Content-Length": str(10**10)})[0]
        assert time.monotonic() - started < 1.0, "a Content-Length over the limit waits for nothing"
        return [big, liar]

    assert during_the_hold(run, abuse) == [413, 413]
    assert run.ext("413 POST /report: body of 1048576 bytes is over the 65536 byte limit")
    assert run.ext("413 POST /report: body of 10000000000 bytes is over the 65536 byte limit")
    assert "report ok from pid" in run.released(), run.output()


@row(
    "Listener",
    "a client that connects, sends nothing and keeps the socket open",
    "nothing: the function's report is served beside it; the silent client gets 408 after 2 s",
    "extension: `rejected request from 127.0.0.1:N: 408 request not received in time`",
)
def test_silent_client(fault: MakeRun) -> None:
    run = _fault(fault)
    silent = socket.socket()

    def abuse(port: int) -> None:
        silent.connect(("127.0.0.1", port))

    try:
        during_the_hold(run, abuse, thawed_s=2.5)  # the 2 s silence limit runs only when thawed
        released = run.released()
        assert "report ok from pid" in released
        assert run.lines.index(EXT + released) < run.lines.index(run.wait_line(": 408 "))
        silent.settimeout(1)
        answer = silent.recv(4096)
    finally:
        silent.close()
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    run.wait_line("408 request not received in time")


@row(
    "Listener",
    "many concurrent clients: 200 at once, then 32 silent ones holding every connection slot "
    "while the function reports",
    "nothing: each client is answered (400, or 503 when the 32 slots are busy); the report "
    "refused with 503 is sent again until a slot frees (within `WARMUP_REPORT_TIMEOUT`)",
    "extension: one `rejected ...` line per request served; the 503s counted, at most one line a "
    "second: `rejected N connection(s): 503 too many connections (32 are served at once)`; "
    "function: nothing, unless no slot frees in time: `report refused ... 503`",
)
def test_many_concurrent_clients(fault: MakeRun) -> None:
    run = _fault(fault)
    silent: list[socket.socket] = []

    def abuse(port: int) -> list[int]:
        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(lambda _: post(port, b"{}")[0], range(200)))
        for _ in range(32):  # every slot taken, until the 2 s silence limit frees them
            silent.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.2)
        assert post(port, b"{}")[0] == 503
        return statuses

    try:
        statuses = during_the_hold(run, abuse)
    finally:
        for sock in silent:
            sock.close()
    assert set(statuses) <= {400, 503}, statuses
    assert statuses.count(400) >= 32
    assert "report ok from pid" in run.released(), run.output()
    refused = run.ext("503 too many connections (32 are served at once)")
    assert refused, run.output()
    assert len(refused) <= 10, "503s are counted, not logged one by one"
    assert not run.fn("report refused"), run.output()


@row(
    "Listener",
    "a valid report from a second process (another pid) during the hold",
    "served: the hold ends early, and the first invocation waits for what is left",
    "extension: `released after N ms: report ok from pid 4242 (...)`, then the function's "
    "`late report ok from pid P, N ms after the release`",
)
def test_report_from_a_second_process(fault: MakeRun) -> None:
    run = _fault(fault)
    report = json.dumps(make_report(pid=4242)).encode()
    assert during_the_hold(run, lambda port: post(port, report)[0]) == 202
    assert "report ok from pid 4242" in run.released()
    run.wait_line("late report ok from pid")


@row(
    "Listener",
    "connections to the report port from outside the sandbox",
    "impossible: the listener is bound to 127.0.0.1 only",
    "extension: `listening for reports on 127.0.0.1:P`",
)
def test_listener_only_on_loopback(fault: MakeRun) -> None:
    run = _fault(fault)

    def bound_addresses(port: int) -> list[str]:
        found = []
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if int(hex_port, 16) == port and state == "0A":  # LISTEN
                found.append(address)
        six = Path("/proc/net/tcp6")
        for line in six.read_text().splitlines()[1:] if six.exists() else []:
            local, state = line.split()[1], line.split()[3]
            if int(local.rpartition(":")[2], 16) == port and state == "0A":
                found.append(local.rpartition(":")[0])
        return found

    assert during_the_hold(run, bound_addresses) == ["0100007F"]  # 127.0.0.1, nothing else
    assert run.ext(f"listening for reports on 127.0.0.1:{run.port}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent; picks the outward address
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((outward, run.port), timeout=1).close()
