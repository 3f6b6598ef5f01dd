"""The library's test helpers: wait for a handle to settle, a fake Lambda context, and a local HTTP
server that records what is POSTed to it."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from lambda_warmup import InitHandle, WarmupError


def settle(handle: InitHandle[Any], timeout: float = 5.0) -> None:
    """Wait until ``handle`` settles, whatever its outcome; fail the test after ``timeout``."""
    try:
        handle.result(timeout)
    except WarmupError as error:
        if not handle.done():
            raise AssertionError(f"init {handle.name!r} did not settle in {timeout} s") from error


@dataclass
class FakeContext:
    """The part of awslambdaric's LambdaContext that warm_handler reads."""

    remaining_ms: float = 30_000
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # see local-runtime-notes: delayed ACK adds ~40 ms otherwise
    server: LoopbackServer

    def do_GET(self) -> None:
        self._answer(200, {"path": self.path})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append((self.path, dict(self.headers), body, time.perf_counter()))
        self.server.posted.set()
        self._answer(self.server.post_status, {"status": "accepted"})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, dict[str, str], bytes, float]] = []
        self.posted = threading.Event()
        self.post_status = 202

    @property
    def port(self) -> int:
        return int(self.server_address[1])
