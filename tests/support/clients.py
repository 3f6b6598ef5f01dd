"""What the client tests share: a keep-alive HTTP server that sees the clients' connections,
moto's server with a queue per test behind such a server, and the sandbox of
``tests/clients/functions``.

:class:`KeepAliveServer` records each request's client port and each connection's end: a client
that reuses its pooled connection shows one port across requests, and a connection it closed
shows in :attr:`KeepAliveServer.closed_ports`. :meth:`KeepAliveServer.forget` makes it answer
the next request on every connection open at that moment with a reset, as a peer that no
longer knows the connection does: what a client finds on Lambda when it sends on a connection
from a snapshot that still looks open. Everything listens on 127.0.0.1, on ports the kernel
picks.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lambda_sandbox import FunctionSpec, Sandbox
from tests.support.database import drivers_layer
from tests.support.layers import warmup_layer
from tests.support.paths import REPO
from tests.support.ports import free_port

FUNCTIONS = REPO / "tests" / "clients" / "functions"
REGION = "us-east-1"
UPSTREAM_TIMEOUT_S = 5.0

# Not passed on between a client and moto: the server writes its own framing and these.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


class _Handler(BaseHTTPRequestHandler):
    """``GET <path>``: ``{"path": ..., "port": <client's source port>}``; with an upstream,
    every request is passed on to it (a new connection each time) and its answer back."""

    protocol_version = "HTTP/1.1"  # keep-alive: the client's pool keeps the connection
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to each keep-alive request
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.epoch = self.server.owner.epoch

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            pass  # reset by the client's side (a connection cut at a snapshot): ended all the same
        finally:
            self.server.owner._ended(self.client_address[1])

    def handle_one_request(self) -> None:
        assert isinstance(self.rfile, io.BufferedReader)
        if not self.rfile.peek(1):  # the client closed the connection
            self.close_connection = True
            return
        if self.epoch < self.server.owner.epoch:  # forgotten: a reset for the request
            linger = struct.pack("ii", 1, 0)  # close with a reset, not a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.close()
            self.close_connection = True
            return
        super().handle_one_request()

    def do_GET(self) -> None:
        port = self.client_address[1]
        owner = self.server.owner
        owner._request(self.path, port)
        if owner.upstream is not None:
            self._pass_on(owner.upstream)
        else:
            body = json.dumps({"path": self.path, "port": port}).encode()
            self._answer(200, [("Content-Type", "application/json")], body)

    do_POST = do_GET

    def _pass_on(self, upstream: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(upstream, timeout=UPSTREAM_TIMEOUT_S)
        try:
            connection.request(self.command, self.path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
        self._answer(answer.status, kept, data)

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: KeepAliveServer


class KeepAliveServer:
    """An HTTP/1.1 ``ThreadingHTTPServer`` on 127.0.0.1; ``with`` serves, then stops it."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        """``host:port`` that every request is passed on to (moto, which closes each
        connection after one answer, as AWS does not)."""
        self.epoch = 0
        """Raised by :meth:`forget`: connections accepted before it are reset at their next
        request."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._changed = threading.Condition()
        self.requests: list[tuple[str, int]] = []
        """``(path, client port)`` of every request, in arrival order."""
        self.closed_ports: list[int] = []
        """The client port of every connection that ended (closed or reset by either side)."""

    def __enter__(self) -> KeepAliveServer:
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="keep-alive-server", daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forget(self) -> None:
        """Reset every connection open now at its next request, instead of answering it."""
        self.epoch += 1

    def ports(self, prefix: str = "/") -> list[int]:
        """The client ports of the requests whose path starts with ``prefix``, in order."""
        with self._changed:
            return [port for path, port in self.requests if path.startswith(prefix)]

    def wait_closed(self, port: int, timeout_s: float) -> bool:
        """Whether the connection from ``port`` has ended, or ends within ``timeout_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: port in self.closed_ports, timeout_s)

    def _request(self, path: str, port: int) -> None:
        with self._changed:
            self.requests.append((path, port))
            self._changed.notify_all()

    def _ended(self, port: int) -> None:
        with self._changed:
            self.closed_ports.append(port)
            self._changed.notify_all()


@dataclass(frozen=True)
class MotoSqs:
    """A queue in moto's server, behind :attr:`front`: the keep-alive server a function's
    ``AWS_ENDPOINT_URL`` names, so that aiobotocore's pool keeps its connection (moto's own
    server closes each one after an answer, as AWS does not), and its port shows."""

    front: KeepAliveServer
    endpoint: str
    """moto's own address."""
    queue_url: str
    sqs: Any
    """A boto3 SQS client of the test's own, straight to moto."""

    def receive_all(self, expected: int, timeout_s: float = 5.0) -> list[str]:
        """The bodies of the queue's messages (deleted as read), once ``expected`` are in or
        ``timeout_s`` ran out."""
        bodies: list[str] = []
        deadline = time.monotonic() + timeout_s
        while len(bodies) < expected and time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = answer.get("Messages", [])
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            if not messages:
                time.sleep(0.05)
        return bodies


@dataclass(frozen=True)
class Moto:
    """moto's server: its address, and a boto3 client of the test's own."""

    endpoint: str
    sqs: Any
    """A boto3 SQS client of the test's own, straight to moto."""


@contextmanager
def moto_server() -> Iterator[Moto]:
    """moto's server on 127.0.0.1, on a port the kernel picks (as the demo starts it)."""
    import boto3  # type: ignore[import-untyped]
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        yield Moto(endpoint, session.client("sqs", endpoint_url=endpoint))
    finally:
        moto.stop()


@contextmanager
def sqs_queue(moto: Moto) -> Iterator[MotoSqs]:
    """A new queue in ``moto`` (no test reads another's messages), and a front for it."""
    name = f"lambda-warmup-clients-{secrets.token_hex(4)}"
    queue_url = moto.sqs.create_queue(QueueName=name)["QueueUrl"]
    try:
        with KeepAliveServer(upstream=moto.endpoint.removeprefix("http://")) as front:
            yield MotoSqs(front, moto.endpoint, queue_url, moto.sqs)
    finally:
        moto.sqs.delete_queue(QueueUrl=queue_url)


def clients_sandbox(
    tmp_path: Path,
    lines: list[str],
    *,
    handler: str,
    api: KeepAliveServer,
    aws: MotoSqs,
    **kwargs: Any,
) -> Sandbox:
    """The function of ``tests/clients/functions`` (``handler``, e.g.
    ``warm_clients.plain.handler``) with the lambda-warmup layer (the extension's hold on) and
    the drivers' layer (aiobotocore), pointed at ``api`` and at ``aws`` through its front."""
    environment = {
        "WARMUP_PORT": str(free_port()),
        "WARMING_TIMEOUT": "5s",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",  # the library's INFO lines, as a user would set it
        "AWS_ENDPOINT_URL": aws.front.url,
        "QUEUE_URL": aws.queue_url,
        "API_URL": api.url,
    }
    spec = FunctionSpec(
        code_dir=FUNCTIONS,
        handler=handler,
        layers=[warmup_layer(tmp_path / "layer", extension=True), drivers_layer()],
        environment=environment,
        name="clients-e2e",
        timeout_s=5.0,
        region=REGION,
    )
    kwargs.setdefault("shutdown_budget_s", 2.0)
    return Sandbox(spec, log=lines.append, **kwargs)
