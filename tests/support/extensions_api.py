"""A minimal in-test Lambda Extensions API (2020-01-01) on 127.0.0.1, port 0.

It records every call with its arrival time (``time.monotonic()``, the same clock the test and
the extension process share), answers ``register`` as configured and ``event/next`` only when
the test hands it an event. Until the project's sandbox can be used here, this is the stand-in
for Lambda.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

PREFIX = "/2020-01-01/extension"
#: Handed to a pending ``event/next`` to make the fake drop the connection without an answer.
DROP = "drop"


class Call(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class FakeExtensionsApi:
    """``with FakeExtensionsApi() as api: ...``; ``api.address`` goes in AWS_LAMBDA_RUNTIME_API."""

    def __init__(
        self,
        *,
        register_status: int = 200,
        next_status: int = 200,
        listen: bool = True,
        send_identifier: bool = True,
    ) -> None:
        self.register_status = register_status
        self.send_identifier = send_identifier
        self.next_status = next_status
        self.identifier = str(uuid.uuid4())
        #: Run when ``register`` arrives, before it is answered (the race-free start test).
        self.on_register: Callable[[], None] | None = None
        self.calls: list[Call] = []
        self._cond = threading.Condition()
        self._events: queue.Queue[dict[str, Any] | str] = queue.Queue()
        self._thread: threading.Thread | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        if listen:
            self.start()

    def start(self) -> None:
        """Listen and serve (a fake built with ``listen=False`` refuses connections until then)."""
        self.server.server_activate()
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        for _ in range(8):
            self._events.put(DROP)
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(5)
        self.server.server_close()

    def __enter__(self) -> FakeExtensionsApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the test does ---------------------------------------------------------------
    def send_event(self, event: dict[str, Any] | str) -> None:
        """Answer the pending (or next) ``event/next`` with ``event`` (or :data:`DROP`)."""
        self._events.put(event)

    def send_shutdown(self, reason: str = "spindown", deadline_in_ms: int = 2000) -> None:
        deadline = int(time.time() * 1000) + deadline_in_ms
        self.send_event({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline})

    def calls_to(self, path: str) -> list[Call]:
        with self._cond:
            return [call for call in self.calls if call.path == path]

    def wait_for(self, path: str, timeout: float, count: int = 1) -> Call:
        """The ``count``-th call to ``path`` (e.g. ``"/event/next"``), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(matching := [c for c in self.calls if c.path == path]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.path) for c in self.calls]
                    raise AssertionError(
                        f"waited {timeout} s for call #{count} to {path}; calls so far: {seen}"
                    )
                self._cond.wait(remaining)
            return matching[count - 1]

    # -- the server side ------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        at = time.monotonic()
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = request.path.removeprefix(PREFIX)
        call = Call(
            request.command, path, {k.lower(): v for k, v in request.headers.items()}, body, at
        )
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        if path == "/register" and request.command == "POST":
            self._register(request, call)
        elif path == "/event/next" and request.command == "GET":
            self._next(request, call)
        elif path in ("/init/error", "/exit/error") and request.command == "POST":
            self._answer(request, 202, {"status": "OK"})
        else:
            self._answer(request, 404, {"errorMessage": "not found", "errorType": "NotFound"})

    def _register(self, request: BaseHTTPRequestHandler, call: Call) -> None:
        if self.on_register is not None:
            self.on_register()
        if self.register_status != 200:
            error = {"errorMessage": "register refused by the test", "errorType": "Test.Refused"}
            self._answer(request, self.register_status, error)
            return
        assert json.loads(call.body) == {"events": ["SHUTDOWN"]}, call.body
        body = {"functionName": "test", "functionVersion": "$LATEST", "handler": "app.handler"}
        headers = {"Lambda-Extension-Identifier": self.identifier} if self.send_identifier else {}
        self._answer(request, 200, body, headers)

    def _next(self, request: BaseHTTPRequestHandler, call: Call) -> None:
        if call.headers.get("lambda-extension-identifier") != self.identifier:
            error = {"errorMessage": "bad identifier", "errorType": "Extension.Unknown"}
            self._answer(request, 403, error)
            return
        if self.next_status != 200:
            self._answer(request, self.next_status, {"errorMessage": "x", "errorType": "Test.X"})
            return
        event = self._events.get()
        if event == DROP:
            request.close_connection = True
            request.connection.close()
            return
        self._answer(request, 200, event)

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler,
        status: int,
        body: object,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)
