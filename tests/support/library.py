"""The library's test helpers: wait for a handle to settle, call something with a bound, a fake
Lambda context, a pool bound to its loop, and a local HTTP server that records what is POSTed
to it."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
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


def bounded[R](func: Callable[[], R], timeout: float = 5.0) -> R:
    """``func()`` in a thread of its own: its result or its exception, or a failed test if it
    has not returned after ``timeout`` (a deadlock would otherwise hang the suite)."""
    outcome: list[R] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            outcome.append(func())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=call, name="bounded-call", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"{func!r} did not return within {timeout} s")
    if errors:
        raise errors[0]
    return outcome[0]


class QueuePool:
    """A stand-in for asyncpg's pool: idle connections wait in an ``asyncio.Queue``.

    Like asyncpg's, the queue belongs to the first loop that waited on it (``bind`` makes that
    the loop it runs on); a caller on any other loop that has to wait for a connection fails
    with asyncio's ``RuntimeError: ... is bound to a different event loop``.
    """

    def __init__(self, size: int = 1) -> None:
        self._idle: asyncio.Queue[int] = asyncio.Queue()
        for connection in range(size):
            self._idle.put_nowait(connection)
        self.size = size
        self.queries = 0

    @classmethod
    async def bind(cls, size: int = 1) -> QueuePool:
        """A pool bound to the running loop, as a pool is once its first caller has waited."""
        pool = cls(size)
        await pool.fetch_many(*["SELECT 1"] * (size + 1))
        pool.queries = 0
        return pool

    async def fetch(self, query: str) -> str:
        connection = await self._idle.get()
        try:
            await asyncio.sleep(0)  # the round trip to the server
            self.queries += 1
            return f"{query} on connection {connection}"
        finally:
            self._idle.put_nowait(connection)

    async def fetch_many(self, *queries: str) -> list[str]:
        """The queries at once: more than ``size`` of them wait for a connection."""
        return list(await asyncio.gather(*(self.fetch(query) for query in queries)))


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


@contextlib.contextmanager
def serving_loopback() -> Iterator[LoopbackServer]:
    """A ``LoopbackServer`` serving from a thread until the block ends (then shut down, joined)."""
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, name="loopback-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
