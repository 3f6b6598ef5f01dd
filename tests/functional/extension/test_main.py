"""``extension_entry.__main__`` in-process, for failures a real process cannot be made to have:
a bug of ours during the hold or the event loop must reach Lambda as init/error or exit/error,
and a bug before register must still be one line, never a traceback."""

from __future__ import annotations

import json

import pytest

import extension_entry.__main__ as entry
from tests.support.extension import LogLines
from tests.support.extensions_api import FakeExtensionsApi
from tests.support.ports import free_port


def boom(*args: object) -> None:
    raise RuntimeError("boom")


def env(api: FakeExtensionsApi) -> dict[str, str]:
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "WARMUP_PORT": str(free_port()),
        "WARMING_TIMEOUT": "5s",
    }


def test_bug_during_the_hold_is_reported_with_init_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "hold_init", boom)
    lines = LogLines()
    with FakeExtensionsApi() as api:
        assert entry.main("lambda-warmup", None, env(api), lines) == 1
    (call,) = api.calls_to("/init/error")
    assert call.headers["lambda-extension-identifier"] == api.identifier
    assert call.headers["lambda-extension-function-error-type"] == "Extension.InternalError"
    assert json.loads(call.body) == {
        "errorMessage": "RuntimeError: boom",
        "errorType": "Extension.InternalError",
    }
    assert api.calls_to("/event/next") == []
    assert "internal error: RuntimeError: boom; reporting it to Lambda and exiting" in lines


def test_bug_in_the_event_loop_is_reported_with_exit_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "serve_events", boom)
    lines = LogLines()
    with FakeExtensionsApi() as api:
        environ = {**env(api), "WARMING_TIMEOUT": "0"}
        assert entry.main("lambda-warmup", None, environ, lines) == 1
    (call,) = api.calls_to("/exit/error")
    assert call.headers["lambda-extension-function-error-type"] == "Extension.InternalError"
    assert api.calls_to("/init/error") == []


def test_the_listener_is_closed_on_every_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entry, "hold_init", boom)
    with FakeExtensionsApi() as api:
        environ = env(api)
        entry.main("lambda-warmup", None, environ, LogLines())
    import socket

    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", int(environ["WARMUP_PORT"])))


def test_bug_before_register_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(entry, "read_settings", boom)
    assert entry.run(["python3", "my-ext", ""]) == 1
    assert capfd.readouterr().err == "[my-ext] internal error: RuntimeError: boom; exiting\n"
