"""A small threaded HTTP/1.1 server for the Runtime and Extensions APIs.

Written by hand rather than on ``http.server`` because awslambdaric needs things that module does
not give (see ``../shared/docs/local-runtime-notes.md``): header lines up to ~1 MiB (the X-Ray
error-cause header), ``TCP_NODELAY`` on every accepted socket, and long-polling handlers that may
block for minutes on one keep-alive connection. One thread per connection; the handler is called
on that thread and may block.

A handler may also give its connection away unanswered (:class:`Detach`), and the server can
take one back with the request still pending (:meth:`HttpServer.adopt`): a SnapStart checkpoint
carries the requests the processes are blocked in across the snapshot that way.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, cast

__all__ = ["Detach", "HttpServer", "Request", "Response"]

MAX_LINE = 2 * 1024 * 1024
"""Longest request or header line accepted (the X-Ray error cause reaches ~1 MiB)."""
MAX_HEADER_BYTES = 8 * 1024 * 1024
MAX_BODY = 64 * 1024 * 1024
"""Bodies above this are refused outright; the 6 MiB payload limit is the API layer's job."""

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class _BadRequestError(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased; a repeated header keeps its last value."""
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Detach:
    """A handler's answer: leave the request unanswered and give the connection to ``on_detach``
    (the server no longer reads it, nor closes it)."""

    tag: str


Handler = Callable[[Request], Response | Detach | None]
"""Returns the response, None to drop the connection without answering, or a :class:`Detach`."""
_Answer = Callable[[], Response | Detach | None]


class HttpServer:
    """Serves ``handler`` on ``host``:random port until :meth:`stop`."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        on_detach: Callable[[str, socket.socket, Request], None] | None = None,
    ) -> None:
        self._handler = handler
        self._on_detach = on_detach
        self._sock = socket.create_server((host, port), backlog=64)
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stopped = False
        self._thread = threading.Thread(
            target=self._accept_loop, name="lambda-sandbox-accept", daemon=True
        )

    @property
    def address(self) -> str:
        """``host:port``, the value for ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            conns = list(self._conns)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not self._track(conn):
                return

    def adopt(self, conn: socket.socket, request: Request, answer: _Answer) -> None:
        """Serve ``conn``, whose pending ``request`` an earlier owner read: ``answer()`` answers
        it (on the connection's own thread, so it may block), then the connection goes on."""
        self._track(conn, (request, answer))

    def _track(self, conn: socket.socket, pending: tuple[Request, _Answer] | None = None) -> bool:
        with self._lock:
            if self._stopped:
                conn.close()
                return False
            self._conns.add(conn)
        threading.Thread(
            target=self._serve, args=(conn, pending), name="lambda-sandbox-conn", daemon=True
        ).start()
        return True

    def _serve(self, conn: socket.socket, pending: tuple[Request, _Answer] | None) -> None:
        detached = False
        try:
            with cast(IO[bytes], conn.makefile("rb", buffering=65536)) as rfile:
                while True:
                    if pending is not None:  # read by the connection's earlier owner
                        request, answer = pending
                        pending = None
                        response = answer()
                    else:
                        try:
                            read = _read_request(
                                rfile, lambda: conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                            )
                        except _BadRequestError as exc:
                            _send(conn, Response(400, str(exc).encode()), close=True)
                            return
                        if read is None:
                            return
                        request = read
                        response = self._handler(request)
                    if not isinstance(response, Response):
                        detached = self._detach(conn, request, response)
                        return
                    close = (request.header("connection") or "").lower() == "close"
                    _send(conn, response, close=close)
                    if close:
                        return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            if not detached:
                conn.close()

    def _detach(self, conn: socket.socket, request: Request, response: Detach | None) -> bool:
        """True if ``conn`` was given away (a :class:`Detach`, and someone to give it to)."""
        if response is None or self._on_detach is None:
            return False
        self._on_detach(response.tag, conn, request)
        return True


def _readline(rfile: IO[bytes]) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise _BadRequestError("header line too long")
    return line


def _read_request(rfile: IO[bytes], send_continue: Callable[[], None]) -> Request | None:
    line = _readline(rfile)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
        line = _readline(rfile)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _BadRequestError(f"bad request line {line[:100]!r}")
    method, target, _version = parts
    headers: dict[str, str] = {}
    total = 0
    while True:
        line = _readline(rfile)
        if not line:
            return None
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise _BadRequestError("headers too large")
        if line in (b"\r\n", b"\n"):
            break
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise _BadRequestError(f"bad header line {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        send_continue()  # curl waits up to 1 s for this before sending a body over 1 KiB
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(rfile)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequestError("bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise _BadRequestError("bad Content-Length")
        body = rfile.read(length) if length else b""
        if len(body) != length:
            return None
    path = target.split("?", 1)[0]
    return Request(method=method.upper(), path=path, headers=headers, body=body)


def _read_chunked(rfile: IO[bytes]) -> bytes:
    chunks: list[bytes] = []
    size_total = 0
    while True:
        line = _readline(rfile)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequestError("bad chunk size") from None
        if size == 0:
            while _readline(rfile) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        size_total += size
        if size_total > MAX_BODY:
            raise _BadRequestError("body too large")
        chunks.append(rfile.read(size))
        rfile.readline(3)


def _send(conn: socket.socket, response: Response, *, close: bool) -> None:
    reason = _REASONS.get(response.status, "Unknown")
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Content-Length: {len(response.body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    conn.sendall(head + response.body)  # one write: headers and body in the same segment
