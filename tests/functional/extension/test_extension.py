"""The extension as a real process (through the layer's launcher) against a fake Extensions API.

Order is asserted with the fake API's arrival times and the extension's log lines, never with
fixed sleeps; every wait has a bound and says what it waited for.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.extension import Harness, make_report, post, raw_request
from tests.support.extensions_api import DROP, FakeExtensionsApi
from tests.support.paths import REPO
from tests.support.ports import own_network_namespace

#: Generous bound for "promptly" on a loaded 2-core machine.
PROMPT_S = 2.0


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    for line in output.splitlines():
        assert line.startswith("[lambda-warmup] "), f"unprefixed output line: {line!r}"


# -- start-up and the race --------------------------------------------------------------------
def test_listener_is_up_before_register_so_a_report_sent_at_register_is_not_lost(
    harness: Harness,
) -> None:
    answers: list[tuple[int, bytes]] = []

    def report_now() -> None:
        # Before register is even answered: the runtime can start the instant the last
        # extension registers, and a fast function reports at once.
        thread = threading.Thread(target=lambda: answers.append(harness.report()))
        thread.start()
        threads.append(thread)

    threads: list[threading.Thread] = []
    harness.api.on_register = report_now
    ext = harness.start(WARMING_TIMEOUT="8s")
    register = harness.api.wait_for("/register", PROMPT_S)
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    threads[0].join(PROMPT_S)
    assert answers == [(202, b'{"status":"accepted"}')]
    assert nxt.at - register.at < 1.0, "the report sent at register did not release the hold"
    assert register.headers["lambda-extension-name"] == "lambda-warmup"
    _, line = ext.wait_for_line("released after ")
    assert line.endswith(": report ok from pid 4242 (settings 12 ms, db_pool 800 ms)")
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    assert_clean(ext.output)


def test_log_lines_in_lifecycle_order(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="4s")
    harness.api.wait_for("/register", PROMPT_S)
    ext.wait_for_line("hold started")
    assert harness.report() == (202, b'{"status":"accepted"}')
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    lines = [line.split("] ", 1)[1] for _, line in ext.lines]
    assert lines[0].startswith(f"listening for reports on 127.0.0.1:{harness.port}, ")
    assert lines[0].endswith(" ms after start")
    assert lines[1].startswith("registered for SHUTDOWN, ")
    assert lines[2] == (
        "hold started: up to 4000 ms (WARMING_TIMEOUT=4s; on-demand INIT limit 10000 ms, "
        "budget 9500 ms from process start)"
    )
    assert lines[3].startswith("released after ")
    assert lines[3].endswith(": report ok from pid 4242 (settings 12 ms, db_pool 800 ms)")
    assert lines[4].startswith("shutdown (spindown), ")
    assert lines[4].endswith(" ms before its deadline; exiting")
    assert len(lines) == 5


# -- WARMING_TIMEOUT ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, "", "0", "0ms", "0.0s"])
def test_no_hold_when_unset_or_zero(harness: Harness, value: str | None) -> None:
    ext = harness.start(WARMING_TIMEOUT=value)
    register = harness.api.wait_for("/register", PROMPT_S)
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    assert nxt.at - register.at < 1.0
    ext.wait_for_line("no hold: WARMING_TIMEOUT")
    # Reports are still heard (the library sends one whenever it can), and only logged.
    assert harness.report() == (202, b'{"status":"accepted"}')
    ext.wait_for_line("report ok from pid 4242 (no hold: WARMING_TIMEOUT")
    assert_clean(ext.output)


@pytest.mark.parametrize("value", ["300", "300ms", "0.3s", " 300 ms ", "0.005m"])
def test_timeout_forms_hold_for_that_long(harness: Harness, value: str) -> None:
    ext = harness.start(WARMING_TIMEOUT=value)
    register = harness.api.wait_for("/register", PROMPT_S)
    ext.wait_for_line("hold started: up to 300 ms")
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    held = nxt.at - register.at
    assert 0.3 <= held < 0.3 + 1.0, f"held {held:.3f} s for WARMING_TIMEOUT={value!r}"
    _, line = ext.wait_for_line(f"no report within WARMING_TIMEOUT={value.strip()}")
    assert int(line.split("released after ")[1].split(" ms")[0]) >= 300, line
    assert_clean(ext.output)


def test_minutes_form_is_cut_to_the_on_demand_budget(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="1m")
    _, line = ext.wait_for_line("hold started")
    assert "(WARMING_TIMEOUT=1m cut to the on-demand INIT limit 10000 ms, budget 9500 ms" in line
    assert harness.report() == (202, b'{"status":"accepted"}')
    harness.api.wait_for("/event/next", PROMPT_S)


@pytest.mark.parametrize("value", ["abc", "-1", "1e4", "3 seconds", "2.5S"])
def test_bad_timeout_logs_one_error_line_and_does_not_hold(harness: Harness, value: str) -> None:
    ext = harness.start(WARMING_TIMEOUT=value)
    register = harness.api.wait_for("/register", PROMPT_S)
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    assert nxt.at - register.at < 1.0
    ext.wait_for_line("no hold: WARMING_TIMEOUT is invalid")  # all lines before it are in
    errors = [line for _, line in ext.lines if "error:" in line]
    assert len(errors) == 1, ext.output
    assert f"WARMING_TIMEOUT={value!r} is not a duration" in errors[0]
    assert "2500, 2500ms, 2.5s, 1m" in errors[0]
    assert "using no hold instead" in errors[0]
    assert_clean(ext.output)


def test_bad_port_falls_back_to_the_default(python_bin: Path) -> None:
    # 9779 itself, so in a network namespace of the test's own, where it is free whatever else
    # runs on the machine; the fake API is made in it too, so the extension can reach it.
    with own_network_namespace(), FakeExtensionsApi() as api:
        harness = Harness(api, python_bin)
        ext = harness.start(WARMUP_PORT="http", WARMING_TIMEOUT="8s")
        try:
            ext.wait_for_line(
                "WARMUP_PORT='http' is not a port; accepted: a whole number from 1 to 65535"
            )
            ext.wait_for_line("listening for reports on 127.0.0.1:9779")
            assert post(9779, json.dumps(make_report()).encode()) == (202, b'{"status":"accepted"}')
            harness.api.wait_for("/event/next", PROMPT_S)
            ext.wait_for_line("released after ")
            api.send_shutdown()
            assert ext.wait_exit(PROMPT_S) == 0
        finally:
            ext.stop()
    assert_clean(ext.output)


# -- reports ------------------------------------------------------------------------------------
def test_ok_report_releases_the_hold(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="8s")
    ext.wait_for_line("hold started: up to 8000 ms")
    time.sleep(0.05)  # not an ordering device: only makes "released after N ms" non-zero
    sent = time.monotonic()
    assert harness.report() == (202, b'{"status":"accepted"}')
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    assert sent <= nxt.at < sent + 1.0
    _, line = ext.wait_for_line("released after")
    assert line.endswith(": report ok from pid 4242 (settings 12 ms, db_pool 800 ms)")


def test_failed_report_releases_at_once_and_logs_the_error(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="20s")
    ext.wait_for_line("hold started")
    report = make_report(status="failed", workers=2)
    report["inits"][1].update(
        status="failed",
        duration_ms=5001.0,
        attempts=3,
        error="InitTimeoutError: init 'db_pool' timed out after 5.0 s",
    )
    assert post(harness.port, json.dumps(report).encode())[0] == 202
    harness.api.wait_for("/event/next", PROMPT_S)
    _, line = ext.wait_for_line("released after")
    assert line.endswith(
        "report failed from pid 4242: settings 12 ms, db_pool failed after 3 attempts "
        "(5001 ms): InitTimeoutError: init 'db_pool' timed out after 5.0 s"
    )


def test_no_report_releases_at_the_timeout_and_a_late_report_is_logged(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="200ms")
    register = harness.api.wait_for("/register", PROMPT_S)
    nxt = harness.api.wait_for("/event/next", PROMPT_S)
    assert nxt.at - register.at >= 0.2
    ext.wait_for_line("no report within WARMING_TIMEOUT=200ms")
    assert harness.report() == (202, b'{"status":"accepted"}')
    _, line = ext.wait_for_line("late report ok from pid 4242, ")
    assert " ms after the release (released after " in line
    assert line.endswith(": settings 12 ms, db_pool 800 ms")
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    assert_clean(ext.output)


def test_two_workers_need_two_pids(harness: Harness) -> None:
    ext = harness.start(
        WARMING_TIMEOUT="20s", AWS_LAMBDA_INITIALIZATION_TYPE="lambda-managed-instances"
    )
    ext.wait_for_line("hold started: up to 20000 ms")
    assert harness.report(pid=101, workers=2)[0] == 202
    ext.wait_for_line("report ok from pid 101: 1 of 2 workers")
    assert harness.report(pid=101, workers=2)[0] == 202
    ext.wait_for_line("report ok from pid 101 again: counted once (1 of 2 workers)")
    assert harness.api.calls_to("/event/next") == [], "released before the second worker"
    assert harness.report(pid=202, workers=2)[0] == 202
    harness.api.wait_for("/event/next", PROMPT_S)
    _, line = ext.wait_for_line("released after")
    assert "reports ok from all 2 workers (pids 101, 202;" in line


def test_two_workers_one_reported_at_timeout(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="300ms")
    ext.wait_for_line("hold started")
    assert harness.report(pid=101, workers=2)[0] == 202
    harness.api.wait_for("/event/next", PROMPT_S)
    ext.wait_for_line("no report within WARMING_TIMEOUT=300ms (1 of 2 workers reported ok)")


# -- the INIT budget ----------------------------------------------------------------------------
def test_on_demand_hold_stops_at_the_budget_from_process_start(harness: Harness) -> None:
    # The 10 s limit shrunk to 1.2 s: budget 1.2 s - 0.5 s margin = 0.7 s from process start.
    ext = harness.start(WARMING_TIMEOUT="5s", _WARMUP_INIT_LIMIT_MS="1200")
    nxt = harness.api.wait_for("/event/next", 3.0)
    since_start = nxt.at - ext.started_at
    # The start instant may come from /proc (10 ms ticks, rounded down: the budget errs early).
    assert 0.7 - 0.02 <= since_start < 0.7 + 1.0, f"next {since_start:.3f} s after process start"
    _, line = ext.wait_for_line("hold started")
    assert "WARMING_TIMEOUT=5s cut to the on-demand INIT limit 1200 ms, budget 700 ms" in line
    ext.wait_for_line("INIT budget reached, 700 ms after process start, no report")


@pytest.mark.parametrize("init_type", ["provisioned-concurrency", "snap-start"])
def test_long_init_types_get_the_full_timeout(harness: Harness, init_type: str) -> None:
    ext = harness.start(
        WARMING_TIMEOUT="1200ms",
        _WARMUP_INIT_LIMIT_MS="1200",
        AWS_LAMBDA_INITIALIZATION_TYPE=init_type,
    )
    register = harness.api.wait_for("/register", PROMPT_S)
    nxt = harness.api.wait_for("/event/next", 4.0)
    assert nxt.at - register.at >= 1.2, "the on-demand budget was applied"
    _, line = ext.wait_for_line("hold started")
    assert line.endswith(
        f"up to 1200 ms (WARMING_TIMEOUT=1200ms; {init_type} INIT limit max(130 s, function "
        "timeout), budget 129500 ms from process start)"
    )


# -- SHUTDOWN and other events --------------------------------------------------------------
def test_shutdown_exits_zero_promptly_and_other_events_are_ignored(harness: Harness) -> None:
    ext = harness.start()
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_event({"eventType": "INVOKE", "requestId": "r1", "deadlineMs": 1})
    harness.api.wait_for("/event/next", PROMPT_S, count=2)
    ext.wait_for_line("ignored event 'INVOKE' (registered for SHUTDOWN only)")
    sent = time.monotonic()
    harness.api.send_shutdown(reason="timeout")
    assert ext.wait_exit(PROMPT_S) == 0
    assert time.monotonic() - sent < 1.0
    ext.wait_for_line("shutdown (timeout), ")
    assert_clean(ext.output)


# -- Extensions API errors ------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 403, 400])
def test_register_refused_exits_non_zero_with_one_line(python_bin: Path, status: int) -> None:
    with FakeExtensionsApi(register_status=status) as api:
        harness = Harness(api, python_bin)
        ext = harness.start(WARMING_TIMEOUT="5s")
        try:
            assert ext.wait_exit(PROMPT_S) == 1
        finally:
            ext.stop()
    assert len(api.calls_to("/register")) == 1
    assert api.calls_to("/event/next") == []
    _, line = ext.wait_for_line("error: register refused")
    assert f"HTTP {status}" in line
    assert_clean(ext.output)


def test_register_without_identifier_exits_non_zero(python_bin: Path) -> None:
    with FakeExtensionsApi(send_identifier=False) as api:
        harness = Harness(api, python_bin)
        ext = harness.start()
        try:
            assert ext.wait_exit(PROMPT_S) == 1
        finally:
            ext.stop()
    assert len(api.calls_to("/register")) == 1, "a registration that may have worked was retried"
    ext.wait_for_line("error: register refused (HTTP 200: no Lambda-Extension-Identifier header)")
    assert_clean(ext.output)


def test_register_unreachable_gives_up_after_bounded_retries(python_bin: Path) -> None:
    with FakeExtensionsApi(listen=False) as api:  # bound, not listening: connection refused
        harness = Harness(api, python_bin)
        ext = harness.start(WARMING_TIMEOUT="5s")
        try:
            assert ext.wait_exit(4.0) == 1
        finally:
            ext.stop()
    ext.wait_for_line(
        "error: register failed after 5 attempt(s) (POST /register: ConnectionRefusedError"
    )
    assert_clean(ext.output)


def test_register_is_retried_while_the_api_is_not_listening_yet(python_bin: Path) -> None:
    with FakeExtensionsApi(listen=False) as api:
        harness = Harness(api, python_bin)
        ext = harness.start()
        try:
            time.sleep(0.1)  # let the first attempt be refused (the retries span ~0.75 s)
            api.start()
            api.wait_for("/event/next", PROMPT_S)
            ext.wait_for_line("registered for SHUTDOWN (attempt ")
        finally:
            ext.stop()


def test_next_refused_exits_non_zero(python_bin: Path) -> None:
    with FakeExtensionsApi(next_status=500) as api:
        harness = Harness(api, python_bin)
        ext = harness.start()
        try:
            assert ext.wait_exit(PROMPT_S) == 1
        finally:
            ext.stop()
    assert len(api.calls_to("/event/next")) == 1
    ext.wait_for_line("error: event/next refused (HTTP 500")
    assert_clean(ext.output)


def test_next_unreachable_does_not_spin(harness: Harness) -> None:
    ext = harness.start()
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_event(DROP)  # the connection closes without an answer...
    harness.api.close()  # ...and nothing listens any more
    assert ext.wait_exit(4.0) == 1
    ext.wait_for_line("error: event/next failed 5 times in a row")
    assert_clean(ext.output)


def test_garbled_events_end_in_exit_error(harness: Harness) -> None:
    ext = harness.start()
    for _ in range(5):
        harness.api.send_event("not an event")
    assert ext.wait_exit(4.0) == 1
    ext.wait_for_line("error: event/next failed 5 times in a row (event/next: not an event")
    (call,) = harness.api.calls_to("/exit/error")
    assert call.headers["lambda-extension-function-error-type"] == "Extension.EventNextFailed"
    assert call.headers["lambda-extension-identifier"] == harness.api.identifier
    assert json.loads(call.body)["errorType"] == "Extension.EventNextFailed"


def test_missing_runtime_api_exits_non_zero(harness: Harness) -> None:
    ext = harness.start(AWS_LAMBDA_RUNTIME_API=None)
    assert ext.wait_exit(PROMPT_S) == 1
    ext.wait_for_line("error: AWS_LAMBDA_RUNTIME_API is unset")


# -- bad requests change nothing ------------------------------------------------------------
def test_bad_requests_get_4xx_and_change_nothing(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="20s")
    ext.wait_for_line("hold started")
    port = harness.port
    good = json.dumps(make_report()).encode()
    # A client that connects and says nothing must not block anyone.
    with socket.create_connection(("127.0.0.1", port)) as silent:
        cases = [
            (post(port, b"{not json"), 400),
            (post(port, json.dumps(make_report(format="x")).encode()), 400),
            (post(port, json.dumps(make_report(pid=-1)).encode()), 400),
            (post(port, good, path="/reports"), 404),
            (post(port, good, path="/"), 404),
            (post(port, good, method="PUT"), 405),
            (post(port, b"", method="GET"), 405),
            (post(port, good, headers={"Content-Type": "text/plain"}), 415),
            (post(port, good, headers={"Content-Length": ""}), 411),
            (post(port, good, headers={"Content-Length": "12abc"}), 400),
            (post(port, good, headers={"Transfer-Encoding": "chunked"}), 411),
            (post(port, b"x" * (64 * 1024 + 1)), 413),
            # Announced as huge, never sent: answered at once, the body is not awaited.
            (post(port, b"", headers={"Content-Length": str(10**12)}), 413),
            (raw_request(port, b"garbage\r\n\r\n"), 400),
            (raw_request(port, b"POST /report HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"), 431),
        ]
        for index, ((status, body), expected) in enumerate(cases):
            assert status == expected, f"case {index}: got {status} {body!r}"
            assert body.startswith(b'{"status":"rejected","error":'), body
        silent.sendall(b"POST /report HTTP/1.1\r\n")  # and then nothing more
        assert harness.api.calls_to("/event/next") == [], "a rejected request released the hold"
        # While the silent client still holds its connection, a good report goes through.
        assert post(port, good) == (202, b'{"status":"accepted"}')
        harness.api.wait_for("/event/next", PROMPT_S)
    ext.wait_for_lines("] rejected ", len(cases))
    assert_clean(ext.output)


def test_silent_client_gets_408(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="20s")
    ext.wait_for_line("hold started")
    with socket.create_connection(("127.0.0.1", harness.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1024).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started < 4.0
    ext.wait_for_line("rejected request from 127.0.0.1:")


def test_port_taken_logs_one_line_and_does_not_hold(harness: Harness) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", harness.port))
        squatter.listen()
        ext = harness.start(WARMING_TIMEOUT="20s")
        register = harness.api.wait_for("/register", PROMPT_S)
        nxt = harness.api.wait_for("/event/next", PROMPT_S)
    assert nxt.at - register.at < 1.0
    _, line = ext.wait_for_line("error: cannot listen for reports on 127.0.0.1:")
    assert "Address already in use" in line
    ext.wait_for_line("no hold: no report listener (see above)")
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    assert_clean(ext.output)


# -- the launcher ---------------------------------------------------------------------------
def test_relocated_layer_renamed_launcher_and_hostile_python_env(
    harness: Harness, layer_copy: Path, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    marker = tmp_path / "marker"
    for module in ("sitecustomize", "usercustomize", "json", "socket", "extension_entry"):
        (hostile / f"{module}.py").write_text(
            f"open({str(marker)!r}, 'a').write('{module}')\nraise SystemExit(3)\n"
        )
    renamed = layer_copy / "extensions" / "warmup-renamed"
    os.rename(layer_copy / "extensions" / "lambda-warmup", renamed)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    ext = harness.start(
        launcher=Path(os.path.relpath(renamed, elsewhere)),
        cwd=elsewhere,
        WARMING_TIMEOUT="5s",
        PYTHONPATH=str(hostile),
        PYTHONSTARTUP=str(hostile / "json.py"),
        PYTHONWARNINGS="error",
        PYTHONUSERBASE=str(hostile),
        CDPATH=str(tmp_path),
    )
    register = harness.api.wait_for("/register", PROMPT_S)
    assert register.headers["lambda-extension-name"] == "warmup-renamed"
    assert harness.report() == (202, b'{"status":"accepted"}')
    harness.api.wait_for("/event/next", PROMPT_S)
    harness.api.send_shutdown()
    assert ext.wait_exit(PROMPT_S) == 0
    assert not marker.exists(), marker.read_text()
    assert ext.lines[0][1].startswith("[warmup-renamed] listening for reports")


def test_launcher_without_python3_says_so(harness: Harness, tmp_path: Path) -> None:
    ext = harness.start(PATH=str(tmp_path))
    assert ext.wait_exit(PROMPT_S) == 127
    ext.wait_for_line("[lambda-warmup] error: python3 is not on PATH")


def test_body_of_exactly_64_kib_is_accepted(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="8s")
    ext.wait_for_line("hold started")
    body = json.dumps(make_report()).encode()
    body += b" " * (64 * 1024 - len(body))  # JSON allows trailing whitespace
    assert post(harness.port, body + b" ")[0] == 413
    assert post(harness.port, body) == (202, b'{"status":"accepted"}')
    harness.api.wait_for("/event/next", PROMPT_S)


def test_expect_100_continue(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="8s")
    ext.wait_for_line("hold started")
    body = json.dumps(make_report()).encode()
    head = (
        "POST /report HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", harness.port), timeout=5) as sock:
        sock.sendall(head.encode())
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert sock.recv(1024).startswith(b"HTTP/1.1 202 Accepted\r\n")
    harness.api.wait_for("/event/next", PROMPT_S)


def test_connection_flood_is_bounded_and_recovers(harness: Harness) -> None:
    ext = harness.start(WARMING_TIMEOUT="8s")
    ext.wait_for_line("hold started")
    silent = [socket.create_connection(("127.0.0.1", harness.port)) for _ in range(32)]
    try:
        status, _ = raw_request(harness.port, b"")
        assert status == 503
    finally:
        for sock in silent:
            sock.close()
    ext.wait_for_line("dropped request from 127.0.0.1:")
    deadline = time.monotonic() + PROMPT_S
    while (status := harness.report()[0]) == 503 and time.monotonic() < deadline:
        time.sleep(0.01)  # slots come back as the closed connections are noticed
    assert status == 202
    harness.api.wait_for("/event/next", PROMPT_S)


@pytest.mark.parametrize(("shell", "source"), [("bash", "launcher"), ("dash", "/proc")])
def test_start_instant_comes_from_the_launcher_under_bash(
    harness: Harness, shell: str, source: str
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    ext = harness.start(shell=shell)
    _, line = ext.wait_for_line("registered for SHUTDOWN")
    assert line.endswith(f"(start instant from {source})")
    harness.api.wait_for("/event/next", PROMPT_S)


@pytest.mark.parametrize("version", ["3.12", "3.13", "3.14"])
def test_runs_on_every_runtimes_python(version: str, tmp_path: Path) -> None:
    """The extension runs on the function runtime's ``python3``: one of the runtimes the layer is
    built for (python3.12+; the 3.8 promise was dropped, see ``extension_entry/__init__.py``)."""
    found = subprocess.run(
        [str(REPO / "scripts" / "find-python"), version], capture_output=True, text=True
    )
    if found.returncode != 0:
        pytest.skip(f"python{version} is not installed")
    (tmp_path / "python3").symlink_to(found.stdout.strip())
    with FakeExtensionsApi() as api:
        harness = Harness(api, tmp_path)
        ext = harness.start(WARMING_TIMEOUT="8s")
        try:
            ext.wait_for_line("hold started", timeout=10)  # the first run compiles its .pyc
            assert harness.report() == (202, b'{"status":"accepted"}')
            api.wait_for("/event/next", PROMPT_S)
            api.send_shutdown()
            assert ext.wait_exit(PROMPT_S) == 0
        finally:
            ext.stop()
    assert_clean(ext.output)
