"""One HTTP GET to the benchmark's local server, blocking or with asyncio streams.

Deliberately bare (``HTTP/1.0``, one connection per request, no client library), so that every
design pays the same for the wire and differs only in how it waits. The server
(``benchmarks/_server.py``) answers ``GET /delay/<ms>`` after sleeping that long.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time


def _address() -> tuple[str, int]:
    host, _, port = os.environ["BENCH_SERVER"].rpartition(":")
    return host, int(port)


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n".encode("ascii")


def _body(response: bytes) -> bytes:
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"bad answer: {head[:80]!r}")
    return body


def get_sync(path: str) -> tuple[bytes, float]:
    """The body, and the seconds the request took."""
    started = time.perf_counter()
    with socket.create_connection(_address()) as sock:
        sock.sendall(_request(path))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return _body(b"".join(chunks)), time.perf_counter() - started


async def get_async(path: str) -> tuple[bytes, float]:
    """The same on the running asyncio loop."""
    started = time.perf_counter()
    host, port = _address()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(_request(path))
        response = await reader.read()
    finally:
        writer.close()
    return _body(response), time.perf_counter() - started


#: The workload's three I/O inits: server-side wait in ms. ``api`` needs ``config`` first, so the
#: critical path is max(config + api, catalog) = 0.8 s and their sum 1.6 s.
DELAYS_MS = {"config": 300, "api": 500, "catalog": 800}


def path(name: str) -> str:
    """The request of init ``name``; ``BENCH_DELAY_SCALE`` shrinks the waits (quick runs)."""
    scale = float(os.environ.get("BENCH_DELAY_SCALE", "1"))
    return f"/delay/{round(DELAYS_MS[name] * scale)}"
