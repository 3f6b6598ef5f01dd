"""Settings with every kind of value: the function always serves; a bad value is one line.

``WARMING_TIMEOUT`` is the extension's (the library only asks whether it is set, to decide
whether to report); ``WARMUP_PORT`` is read by both processes.
"""

from __future__ import annotations

import socket

import pytest

from tests.support.faults import OK_APP, MakeRun, Run
from tests.support.ports import own_network_namespace

from .matrix import row

pytestmark = pytest.mark.e2e

BUDGET_MS = 9500  # the on-demand 10 s INIT limit less the extension's 500 ms margin


def _serves(run: Run) -> None:
    init = run.start()
    assert init.status == "success", (init, run.output())
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.json() == {"ok": True, "token_length": 22}


def _released_by_the_report(run: Run) -> None:
    init = run.sandbox.inits[-1]
    released = run.released()
    assert "report ok from pid" in released, run.output()
    assert init.runtime_next_ms is not None
    assert init.extensions_next_ms["lambda-warmup"] > init.runtime_next_ms, (init, run.output())


@row(
    "Settings",
    "`WARMING_TIMEOUT` unset, empty, `0`, `0ms`, `0.0s`",
    "served; INIT ends at the runtime's `next`, the first invocation waits for the inits",
    "extension: `no hold: WARMING_TIMEOUT is unset` (or `=0`); no report is sent",
)
@pytest.mark.parametrize("value", [None, "", "0", "0ms", "0.0s"])
def test_no_hold(fault: MakeRun, value: str | None) -> None:
    env = {"INIT_MS": "300"} if value is None else {"INIT_MS": "300", "WARMING_TIMEOUT": value}
    run = fault(OK_APP, env=env)
    _serves(run)
    expected = "unset" if not value else f"={value}"
    assert run.ext(f"no hold: WARMING_TIMEOUT{' is ' if not value else ''}{expected}"), run.output()
    assert not run.ext("report ok"), run.output()
    assert not run.ext("error"), run.output()


@row(
    "Settings",
    "`WARMING_TIMEOUT` `abc`, `-1`, `1e4`, `3S`, `inf`, `.5s`, `5 sec`",
    "served, without a hold (as if unset)",
    "extension, one line: `error: WARMING_TIMEOUT='abc' is not a duration; accepted: a number of "
    "milliseconds, or a number with a unit: 2500, 2500ms, 2.5s, 1m (unset, empty or 0: no hold); "
    "using no hold instead`; the report that still comes is logged",
)
@pytest.mark.parametrize("value", ["abc", "-1", "1e4", "3S", "inf", ".5s", "5 sec"])
def test_invalid_timeout(fault: MakeRun, value: str) -> None:
    run = fault(OK_APP, env={"WARMING_TIMEOUT": value})
    _serves(run)
    errors = run.ext("error")
    assert errors == [
        f"error: WARMING_TIMEOUT={value!r} is not a duration; accepted: a number of "
        "milliseconds, or a number with a unit: 2500, 2500ms, 2.5s, 1m (unset, empty or 0: no "
        "hold); using no hold instead"
    ], run.output()
    assert run.ext("no hold: WARMING_TIMEOUT is invalid"), run.output()
    assert not run.fn("WARMING_TIMEOUT"), "the library must leave this value to the extension"


@row(
    "Settings",
    "`WARMING_TIMEOUT` `3s`, ` 3s ` (spaces), `3 s`, `2500`, `2500ms`, `2.5s`",
    "served; INIT lasts until the inits are done",
    "extension: `hold started: up to 3000 ms (WARMING_TIMEOUT=3s; ...)`, then "
    "`released after N ms: report ok from pid P (config N ms)`",
)
@pytest.mark.parametrize(
    ("value", "hold_ms"),
    [("3s", 3000), (" 3s ", 3000), ("3 s", 3000), ("2500", 2500), ("2500ms", 2500), ("2.5s", 2500)],
)
def test_timeout_forms(fault: MakeRun, value: str, hold_ms: int) -> None:
    run = fault(OK_APP, env={"WARMING_TIMEOUT": value, "INIT_MS": "200"})
    _serves(run)
    started = run.ext("hold started")
    assert started == [
        f"hold started: up to {hold_ms} ms (WARMING_TIMEOUT={value.strip()}; on-demand INIT limit "
        f"10000 ms, budget {BUDGET_MS} ms from process start)"
    ], run.output()
    _released_by_the_report(run)
    assert run.sandbox.inits[-1].extensions_next_ms["lambda-warmup"] >= 200


@row(
    "Settings",
    "`WARMING_TIMEOUT` past the INIT limit: `1m`, `99999999999999999999`, a 400-digit number",
    "served; the hold is cut to the on-demand INIT budget (9.5 s from the extension's start)",
    "extension: `hold started: up to N ms (WARMING_TIMEOUT=1m cut to the on-demand INIT limit "
    "10000 ms, budget 9500 ms from process start; N ms elapsed)`",
)
@pytest.mark.parametrize("value", ["1m", "99999999999999999999", "1" + "0" * 400])
def test_huge_timeout_is_cut_to_the_budget(fault: MakeRun, value: str) -> None:
    run = fault(OK_APP, env={"WARMING_TIMEOUT": value})
    _serves(run)
    started = run.ext("hold started")
    assert len(started) == 1, run.output()
    assert f"(WARMING_TIMEOUT={value} cut to the on-demand INIT limit 10000 ms" in started[0]
    _released_by_the_report(run)


@row(
    "Settings",
    "`WARMUP_PORT` `abc`, `0`, `70000`, `-1`, `1e3`",
    "served; both processes use the default port, 9779",
    "function: `lambda-warmup: WARMUP_PORT='abc' is not a port; use a whole number from 1 to "
    "65535; using the default, 9779`; extension: `error: WARMUP_PORT='abc' is not a port; "
    "accepted: a whole number from 1 to 65535; using the default, 9779, instead`",
)
@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1", "1e3"])
def test_invalid_port(fault: MakeRun, value: str) -> None:
    # 9779 itself, so in a network namespace of the test's own, where it is free whatever else
    # runs on the machine; the sandbox is made in it, so its server and processes are all there.
    with own_network_namespace():
        run = fault(OK_APP, env={"WARMUP_PORT": value, "WARMING_TIMEOUT": "5s"})
        _serves(run)
    assert run.ext("error") == [
        f"error: WARMUP_PORT={value!r} is not a port; accepted: a whole number from 1 to 65535; "
        "using the default, 9779, instead"
    ], run.output()
    assert run.ext("listening for reports on 127.0.0.1:9779"), run.output()
    assert run.fn(
        f"lambda-warmup: WARMUP_PORT={value!r} is not a port; use a whole number from 1 to 65535; "
        "using the default, 9779"
    ), run.output()
    _released_by_the_report(run)  # the library's report went to 9779 too


@row(
    "Settings",
    "`WARMUP_PORT` already taken by another process",
    "served, without a hold; the report goes unanswered and is given up after "
    "`WARMUP_REPORT_TIMEOUT`",
    "extension: `error: cannot listen for reports on 127.0.0.1:P (Address already in use); no "
    "hold, set WARMUP_PORT to a free port`; function: `lambda-warmup: report not delivered to "
    "http://127.0.0.1:P/report (ReadTimeout); is the layer's extension running?`",
)
def test_port_taken(fault: MakeRun) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(8)  # never accepts: a report to it waits for an answer
        port = squatter.getsockname()[1]
        run = fault(
            OK_APP,
            env={"WARMUP_PORT": str(port), "WARMING_TIMEOUT": "5s", "WARMUP_REPORT_TIMEOUT": "200"},
        )
        _serves(run)
        assert run.ext("error") == [
            f"error: cannot listen for reports on 127.0.0.1:{port} (Address already in use); "
            "no hold, set WARMUP_PORT to a free port"
        ], run.output()
        assert run.ext("no hold: no report listener"), run.output()
        run.invoke({"sleep": 1.0})  # the report is sent from the warm loop: it runs when thawed
        assert run.fn(
            f"lambda-warmup: report not delivered to http://127.0.0.1:{port}/report (ReadTimeout"
        ), run.output()


@row(
    "Settings",
    "`WARMUP_INIT_TIMEOUT` `5x`, `WARMUP_REPORT_TIMEOUT` `-1` (the library's own durations)",
    "served; the defaults are used (no init timeout; 2 s for the report)",
    "function, one line each: `lambda-warmup: WARMUP_INIT_TIMEOUT='5x' is not a duration; use a "
    "number of milliseconds, or with a unit: 2500, 2500ms, 2.5s, 1m; using the default, no "
    "timeout` (`..., using the default, 2 s`)",
)
def test_invalid_library_durations(fault: MakeRun) -> None:
    run = fault(
        OK_APP,
        env={"WARMING_TIMEOUT": "5s", "WARMUP_INIT_TIMEOUT": "5x", "WARMUP_REPORT_TIMEOUT": "-1"},
    )
    _serves(run)
    forms = "use a number of milliseconds, or with a unit: 2500, 2500ms, 2.5s, 1m"
    assert run.fn(
        f"lambda-warmup: WARMUP_INIT_TIMEOUT='5x' is not a duration; {forms}; using the default, "
        "no timeout"
    ), run.output()
    assert run.fn(
        f"lambda-warmup: WARMUP_REPORT_TIMEOUT='-1' is not a duration; {forms}; using the "
        "default, 2 s"
    ), run.output()
    _released_by_the_report(run)
