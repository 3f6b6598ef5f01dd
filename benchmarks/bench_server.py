"""The local server the workload's inits and the HTTP handlers talk to, on 127.0.0.1.

``GET /delay/<ms>`` answers ``{"waited_ms": <ms>}`` after sleeping that long (a real socket wait
on the caller's side); HTTP/1.1 keep-alive for clients that keep connections, one request per
connection for ``HTTP/1.0`` ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Delay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms per keep-alive request

    def do_GET(self) -> None:
        prefix, _, ms = self.path.rpartition("/")
        if prefix != "/delay" or not ms.isdigit():
            self._send(404, b'{"message":"GET /delay/<ms>"}')
            return
        if int(ms):
            time.sleep(int(ms) / 1000)
        self._send(200, b'{"waited_ms":' + ms.encode() + b"}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve() -> Iterator[str]:
    """Runs the server in daemon threads; yields its ``host:port``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Delay)
    server.daemon_threads = True
    server.request_queue_size = 128
    thread = threading.Thread(target=server.serve_forever, name="bench-server", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
