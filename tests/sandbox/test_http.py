"""The hand-written HTTP server under the Runtime and Extensions APIs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lambda_sandbox._http import HttpServer, Request, Response


@pytest.fixture
def server() -> Iterator[tuple[HttpServer, list[Request]]]:
    seen: list[Request] = []

    def handle(request: Request) -> Response | None:
        seen.append(request)
        if request.path == "/drop":
            return None
        return Response(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

    srv = HttpServer(handle)
    srv.start()
    yield srv, seen
    srv.stop()


def _connect(srv: HttpServer) -> socket.socket:
    host, port = srv.address.split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a full response head: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_header_line_of_a_mebibyte_keep_alive_and_one_write(
    server: tuple[HttpServer, list[Request]],
) -> None:
    srv, seen = server
    cause = "x" * (1024 * 1024 + 10)
    with _connect(srv) as sock:
        for _ in range(2):  # same keep-alive connection
            sock.sendall(
                b"POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nHost: x\r\n"
                b"Lambda-Runtime-Function-XRay-Error-Cause: " + cause.encode() + b"\r\n"
                b"Content-Length: 2\r\n\r\n{}"
            )
            response = _read_response(sock)
            assert response.startswith(b"HTTP/1.1 202 Accepted\r\n")
            assert response.endswith(b'{"status":"OK"}')
    assert len(seen) == 2
    assert seen[0].header("lambda-runtime-function-xray-error-cause") == cause
    assert seen[0].body == b"{}"


def test_chunked_body(server: tuple[HttpServer, list[Request]]) -> None:
    srv, seen = server
    with _connect(srv) as sock:
        sock.sendall(
            b"POST /x?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
        )
        assert _read_response(sock).startswith(b"HTTP/1.1 202")
    assert seen[0].path == "/x"
    assert seen[0].body == b"abcde"


def test_handler_may_drop_the_connection(server: tuple[HttpServer, list[Request]]) -> None:
    srv, _ = server
    with _connect(srv) as sock:
        sock.sendall(b"GET /drop HTTP/1.1\r\n\r\n")
        assert sock.recv(100) == b""


def test_bad_request_line(server: tuple[HttpServer, list[Request]]) -> None:
    srv, seen = server
    with _connect(srv) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 400")
    assert seen == []


def test_expect_100_continue(server: tuple[HttpServer, list[Request]]) -> None:
    srv, seen = server
    with _connect(srv) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"abc")
        assert _read_response(sock).startswith(b"HTTP/1.1 202")
    assert seen[0].body == b"abc"
