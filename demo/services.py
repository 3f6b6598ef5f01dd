"""Local stand-ins for what the samples call: AWS (moto's server) and the quotes API.

Both listen on 127.0.0.1, on ports the kernel picks. :meth:`LocalServices.function_environment`
is what a function needs to reach them: ``AWS_ENDPOINT_URL`` (boto3 sends every service there),
and the names of the parameter and the secret, which the demo creates in moto.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PARAMETER_NAME = "/lambda-warmup-demo/quotes-api-url"
SECRET_NAME = "lambda-warmup-demo/quotes-api-token"
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
    """moto's server (SSM, Secrets Manager, ...) and the quotes API, started by :func:`start`."""

    def __init__(self, aws_endpoint: str, api_url: str, token: str) -> None:
        self.aws_endpoint = aws_endpoint
        self.api_url = api_url
        self.token = token

    def function_environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "API_URL_PARAMETER": PARAMETER_NAME,
            "API_TOKEN_SECRET": SECRET_NAME,
        }


@contextmanager
def start() -> Iterator[LocalServices]:
    """Starts both servers, stores the API's URL and token in moto; stops them on exit."""
    import boto3  # type: ignore[import-untyped]
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

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        session.client("ssm", endpoint_url=endpoint).put_parameter(
            Name=PARAMETER_NAME, Value=api_url, Type="String", Overwrite=True
        )
        session.client("secretsmanager", endpoint_url=endpoint).create_secret(
            Name=SECRET_NAME, SecretString=token
        )
        yield LocalServices(endpoint, api_url, token)
