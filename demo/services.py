"""Local stand-ins for what the samples call: AWS (moto's server), the quotes API, PostgreSQL.

All listen on 127.0.0.1, on ports the kernel picks. :meth:`LocalServices.function_environment`
is what a function needs to reach them: ``AWS_ENDPOINT_URL`` (boto3 and aiobotocore send every
service there), the names of the parameter and the secret, which the demo creates in moto, and
for the orders sample the queue's URL (made in moto) and ``DATABASE_URL`` (a
:class:`lambda_sandbox.LocalPostgres` in a temporary directory, when :func:`start` is asked for
it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lambda_sandbox import LocalPostgres

PARAMETER_NAME = "/lambda-warmup-demo/quotes-api-url"
SECRET_NAME = "lambda-warmup-demo/quotes-api-token"
QUEUE_NAME = "lambda-warmup-demo-orders"
REGION = "us-east-1"


class _QuotesApi(BaseHTTPRequestHandler):
    """``GET /prices/<sku>?quantity=N`` with ``Authorization: Bearer <token>``: a price in JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real API: the function's client reuses it
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to each keep-alive request
    token = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(401, {"message": "bad or missing token"})
            return
        if not url.path.startswith("/prices/"):
            self._send(404, {"message": "not found"})
            return
        sku = url.path.removeprefix("/prices/")
        quantity = int(parse_qs(url.query).get("quantity", ["1"])[0])
        cents = 1000 + int(hashlib.sha256(sku.encode()).hexdigest()[:6], 16) % 49000
        self._send(200, {"currency": "EUR", "unit": cents / 100, "total": cents * quantity / 100})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServices:
    """moto's server (SSM, Secrets Manager, SQS), the quotes API and, for the orders sample,
    PostgreSQL: started by :func:`start`."""

    def __init__(
        self,
        aws_endpoint: str,
        api_url: str,
        token: str,
        queue_url: str,
        database: LocalPostgres | None = None,
    ) -> None:
        self.aws_endpoint = aws_endpoint
        self.api_url = api_url
        self.token = token
        self.queue_url = queue_url
        """The orders queue, in moto."""
        self.database = database
        """The orders sample's database, if :func:`start` was asked for it."""

    def function_environment(self) -> dict[str, str]:
        env = {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "API_URL_PARAMETER": PARAMETER_NAME,
            "API_TOKEN_SECRET": SECRET_NAME,
            "ORDERS_QUEUE_URL": self.queue_url,
        }
        if self.database is not None:
            env["DATABASE_URL"] = self.database.url
        return env

    def sqs(self) -> Any:
        """A boto3 SQS client on moto (to read what the orders sample sent)."""
        return _session().client("sqs", endpoint_url=self.aws_endpoint)


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on right now (bind port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _session() -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@contextmanager
def start(*, database: bool = False) -> Iterator[LocalServices]:
    """Starts moto and the quotes API, stores the API's URL and token in moto and makes the
    orders queue there; with ``database``, also a PostgreSQL server (a new cluster in a temporary
    directory, ~2 s). Stops them all on exit, whatever happened in between."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with ExitStack() as stack:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        stack.callback(moto.stop)
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        token = secrets.token_urlsafe(24)
        handler = type("QuotesApi", (_QuotesApi,), {"token": token})
        api = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        api.daemon_threads = True
        threading.Thread(target=api.serve_forever, name="quotes-api", daemon=True).start()
        stack.callback(api.server_close)
        stack.callback(api.shutdown)
        api_url = f"http://127.0.0.1:{api.server_address[1]}"

        session = _session()
        session.client("ssm", endpoint_url=endpoint).put_parameter(
            Name=PARAMETER_NAME, Value=api_url, Type="String", Overwrite=True
        )
        # moto keeps its state per process, not per server: a second start() finds the secret.
        secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)
        try:
            secretsmanager.create_secret(Name=SECRET_NAME, SecretString=token)
        except secretsmanager.exceptions.ResourceExistsException:
            secretsmanager.put_secret_value(SecretId=SECRET_NAME, SecretString=token)
        sqs = session.client("sqs", endpoint_url=endpoint)
        # A queue of this start's own, empty as its new database is (moto's state outlives it).
        queue_name = f"{QUEUE_NAME}-{secrets.token_hex(4)}"
        queue_url = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])

        db = None
        if database:
            data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="orders-db-")))
            db = LocalPostgres(data / "pgdata", port=free_port())
            stack.callback(db.stop)  # before start(): a start that fails half-way is stopped too
            db.start()
        yield LocalServices(endpoint, api_url, token, queue_url, db)
