"""The extension run as Lambda runs it (the layer's launcher, a real process, a clean env) against
the fake Extensions API: :class:`Harness`; and the reports and raw requests a test sends it."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.extensions_api import FakeExtensionsApi
from tests.support.paths import REPO
from tests.support.ports import free_port

LAUNCHER = REPO / "extensions" / "lambda-warmup"


class LogLines(list[str]):
    """A stand-in for the extension's ``Log``: keeps each message; ``fields`` keeps what each
    line would carry as JSON keys (``event``, ``status``...)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, object]] = []

    def __call__(self, message: str, level: str | None = None, **fields: object) -> None:
        self.append(message)
        self.fields.append({"level": level, **fields})

    def events(self) -> list[str]:
        return [str(f["event"]) for f in self.fields if "event" in f]


class ExtensionProcess:
    """The launcher as a child process; its output lines are collected with arrival times."""

    def __init__(
        self,
        launcher: Path,
        env: dict[str, str],
        cwd: Path | None = None,
        shell: str | None = None,
    ) -> None:
        self.lines: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [shell, str(launcher)] if shell else [str(launcher)],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(line for _, line in self.lines)

    def wait_for_line(self, fragment: str, timeout: float = 5.0) -> tuple[float, str]:
        """The first output line containing ``fragment`` and when it arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for at, line in self.lines:
                    if fragment in line:
                        return at, line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"waited {timeout} s for a log line with {fragment!r}; output:\n"
                        f"{self.output}"
                    )
                self._cond.wait(remaining)

    def wait_for_lines(self, fragment: str, count: int, timeout: float = 5.0) -> list[str]:
        """Wait for ``count`` output lines with ``fragment`` (output arrives asynchronously)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := [line for _, line in self.lines if fragment in line]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"waited {timeout} s for {count} log lines with {fragment!r}, "
                        f"got {len(found)}; output:\n{self.output}"
                    )
                self._cond.wait(remaining)
            return found

    def wait_exit(self, timeout: float = 5.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"waited {timeout} s for the extension to exit; output:\n{self.output}"
            ) from None
        self._reader.join(2)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self._reader.join(2)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Harness:
    """One fake Extensions API plus the extension processes started against it."""

    def __init__(self, api: FakeExtensionsApi, python_bin: Path) -> None:
        self.api = api
        self.python_bin = python_bin
        self.port = free_port()
        self.processes: list[ExtensionProcess] = []

    def env(self, **overrides: str | None) -> dict[str, str]:
        env = {
            "PATH": f"{self.python_bin}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "WARMUP_PORT": str(self.port),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        }
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def start(
        self,
        launcher: Path = LAUNCHER,
        cwd: Path | None = None,
        shell: str | None = None,
        **env: str | None,
    ) -> ExtensionProcess:
        """Run the launcher (with ``shell``, else by its ``#!``) with ``env`` overrides."""
        process = ExtensionProcess(launcher, self.env(**env), cwd, shell)
        self.processes.append(process)
        return process

    def report(self, **fields: Any) -> tuple[int, bytes]:
        """POST a valid report (``fields`` override the defaults) to the extension."""
        return post(self.port, json.dumps(make_report(**fields)).encode())


def make_report(**fields: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "format": "lambda-warmup/1",
        "status": "ok",
        "pid": 4242,
        "workers": 1,
        "duration_ms": 812.4,
        "inits": [
            {
                "name": "settings",
                "required": True,
                "status": "ok",
                "duration_ms": 12.5,
                "attempts": 1,
                "error": None,
            },
            {
                "name": "db_pool",
                "required": True,
                "status": "ok",
                "duration_ms": 800.0,
                "attempts": 1,
                "error": None,
            },
        ],
    }
    report.update(fields)
    return report


def post(
    port: int,
    body: bytes,
    *,
    method: str = "POST",
    path: str = "/report",
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """One request over a raw socket (so malformed ones can be sent too): (status, body)."""
    all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    all_headers.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in all_headers.items() if v != "")
    return raw_request(port, head.encode() + b"\r\n" + body, timeout=timeout)


def raw_request(port: int, data: bytes, *, timeout: float = 5.0) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        # The server may answer and close before reading it all (413).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        response = b""
        while chunk := _recv(sock):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), response[:200]
    return int(head[9:12]), payload


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""


REPORT_APP = '''
"""At import, a background thread reports to the extension after REPORT_AFTER_MS."""
import json, os, threading, time, urllib.request

def _report():
    time.sleep(int(os.environ["REPORT_AFTER_MS"]) / 1000)
    body = json.dumps({"format": "lambda-warmup/1", "status": "ok", "pid": os.getpid(),
        "workers": 1, "duration_ms": 1.0, "inits": []}).encode()
    request = urllib.request.Request(
        "http://127.0.0.1:" + os.environ["WARMUP_PORT"] + "/report", data=body,
        headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(request, timeout=2).read()

if os.environ.get("REPORT_AFTER_MS"):
    threading.Thread(target=_report, daemon=True).start()

def handler(event, context):
    return {"ok": True}
'''
