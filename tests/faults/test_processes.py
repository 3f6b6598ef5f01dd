"""Processes that fail: the handler module, the runtime, the extension, the Extensions API."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.extension import Harness
from tests.support.extensions_api import FakeExtensionsApi
from tests.support.faults import OK_APP, MakeRun, Run

from .matrix import row

pytestmark = pytest.mark.e2e

HOLD = {"WARMING_TIMEOUT": "5s"}


def when(run: Run, fragment: str, action: Callable[[], object]) -> threading.Thread:
    """Run ``action()`` in a thread as soon as a line with ``fragment`` is printed."""

    def wait_then_act() -> None:
        run.wait_line(fragment, timeout=10)
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def _killed_in_the_hold(run: Run) -> None:
    """The extension held INIT for the report when the runtime failed: it never called
    ``next``, so it could not hear SHUTDOWN, and was killed when the shutdown budget ran out."""
    run.ext_exits = {0, None}
    assert run.ext("hold started"), run.output()
    assert not run.ext("released after"), run.output()


@row(
    "Process",
    "the handler module fails to import (`import no_such_module` after an init)",
    "`Runtime.ImportModuleError: Unable to import module 'app': No module named "
    "'no_such_module'`, at INIT and at every invocation (each re-runs INIT)",
    "function: the error, once per INIT; platform: `INIT_REPORT ... Status: error Error Type: "
    "Runtime.ImportModuleError`; the holding extension cannot hear SHUTDOWN and is killed at the "
    "end of the shutdown budget",
)
def test_handler_module_fails_to_import(fault: MakeRun) -> None:
    run = fault(OK_APP + "\nimport no_such_module\n", env={**HOLD, "INIT_MS": "3000"})
    init = run.start()
    assert (init.status, init.error_type) == ("error", "Runtime.ImportModuleError"), init
    result = run.invoke()
    assert result.status == "error"
    assert result.json()["errorType"] == "Runtime.ImportModuleError"
    message = result.json()["errorMessage"]
    assert message == "Unable to import module 'app': No module named 'no_such_module'"
    assert len(run.fn("No module named 'no_such_module'")) == 2, run.output()
    assert run.has("Phase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError")
    _killed_in_the_hold(run)


@row(
    "Process",
    "the runtime dies (`os._exit(3)`) during INIT",
    "`Runtime.ExitError` at INIT and at every invocation (each re-runs INIT)",
    "platform: `INIT_REPORT ... Status: error Error Type: Runtime.ExitError`; the holding "
    "extension is killed at the end of the shutdown budget",
)
def test_runtime_dies_during_init(fault: MakeRun) -> None:
    run = fault(OK_APP + "\nos._exit(3)\n", env={**HOLD, "INIT_MS": "3000"})
    init = run.start()
    assert (init.status, init.error_type) == ("error", "Runtime.ExitError"), init
    result = run.invoke()
    assert result.status == "error"
    assert result.error_type == "Runtime.ExitError"
    assert run.has("Phase: init\tStatus: error\tError Type: Runtime.ExitError"), run.output()
    assert run.has("Phase: invoke\tStatus: error\tError Type: Runtime.ExitError"), run.output()
    _killed_in_the_hold(run)


@row(
    "Process",
    "the extension is killed (SIGKILL) during the hold",
    "served: INIT fails (`Extension.Crash`), the first invocation runs INIT again (suppressed "
    "init) and succeeds",
    "platform: `INIT_REPORT ... Phase: init Status: error Error Type: Extension.Crash`; the new "
    "extension's `hold started` and `released after N ms: report ok`",
)
def test_extension_killed_during_the_hold(fault: MakeRun) -> None:
    run = fault(OK_APP, env={**HOLD, "INIT_MS": "1000"})
    run.ext_exits = {0, None}
    killer = when(run, "hold started", lambda: os.kill(run.pid("lambda-warmup"), signal.SIGKILL))
    init = run.start()
    killer.join(5)
    assert (init.status, init.error_type) == ("error", "Extension.Crash"), init
    result = run.invoke()
    assert result.status == "success", (result.payload, run.output())
    assert result.suppressed_init is not None
    assert result.suppressed_init.status == "success"
    assert run.has("Phase: init\tStatus: error\tError Type: Extension.Crash"), run.output()
    assert "report ok from pid" in run.released()
    assert run.ext_exit_codes() == [-signal.SIGKILL]


@row(
    "Process",
    "the extension dies before registering (the function's `PATH` has no `python3`)",
    "`Extension.Crash` at INIT and at every invocation: the layer needs a Python runtime",
    "extension: `error: python3 is not on PATH; the extension runs on the function's Python "
    "runtime` (exit 127)",
)
def test_extension_dies_before_registering(fault: MakeRun) -> None:
    run = fault(OK_APP, env={**HOLD, "PATH": "/nonexistent"})
    run.ext_exits = {127}
    init = run.start()
    assert (init.status, init.error_type) == ("error", "Extension.Crash"), init
    assert init.waiting_for == ["lambda-warmup: register"]
    result = run.invoke()
    assert (result.status, result.error_type) == ("error", "Extension.Crash")
    assert (
        run.ext()
        == ["error: python3 is not on PATH; the extension runs on the function's Python runtime"]
        * 2
    ), run.output()


@pytest.fixture
def python_bin(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "python3").symlink_to(os.path.realpath(sys.executable))
    return directory


@row(
    "Process",
    "the Extensions API answers 500 to `register`, or to `event/next`",
    "(Lambda fails INIT: an extension that exits during INIT is a crash)",
    "extension, one line, exit 1: `error: register refused (HTTP 500: ...); exiting`, or "
    "`error: event/next refused (HTTP 500: ...); exiting`",
)
@pytest.mark.parametrize("call", ["register", "event/next"])
def test_extensions_api_answers_500(python_bin: Path, call: str) -> None:
    register_status, next_status = (500, 200) if call == "register" else (200, 500)
    with FakeExtensionsApi(register_status=register_status, next_status=next_status) as api:
        ext = Harness(api, python_bin).start(WARMING_TIMEOUT="200ms")
        try:
            assert ext.wait_exit(5) == 1
        finally:
            ext.stop()
    ext.wait_for_line(f"error: {call} refused (HTTP 500")
    assert "Traceback" not in ext.output


@row(
    "Process",
    "the Extensions API goes away during the hold",
    "(Lambda is gone: nothing left to serve)",
    "extension: the hold ends as usual, then `error: event/next failed 5 times in a row "
    "(GET /event/next: ConnectionRefusedError: ...); exiting` after 1.5 s of backoff, exit 1",
)
def test_extensions_api_goes_away(python_bin: Path) -> None:
    with FakeExtensionsApi() as api:
        harness = Harness(api, python_bin)
        ext = harness.start(WARMING_TIMEOUT="500ms")
        try:
            ext.wait_for_line("hold started")
            api.close()
            ext.wait_for_line("released after")
            assert ext.wait_exit(5) == 1
        finally:
            ext.stop()
    ext.wait_for_line("error: event/next failed 5 times in a row (GET /event/next: ")
    assert "Traceback" not in ext.output
